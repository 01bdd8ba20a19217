//! Risk-register gauges on /metrics, refreshed in the scheduled metrics refresh (never per scrape):
//! `vigie_risks{level,treatment}` (open risks), `vigie_actions{priority,state}`,
//! `vigie_action_plan_progress_ratio{priority}`, `vigie_exceptions{state}`,
//! `vigie_risk_reviews_overdue`, and `vigie_webhook_outbox{state}`.

use prometheus::{GaugeVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::actions::{progress, ActionState, Priority};
use super::exceptions::ExceptionState;
use super::register::review_overdue;
use super::{Level, RiskStatus, Treatment};
use crate::store::{Store, StoreError};

/// The gauges.
pub struct RiskGauges {
    risks: IntGaugeVec,
    actions: IntGaugeVec,
    progress: GaugeVec,
    exceptions: IntGaugeVec,
    reviews_overdue: IntGauge,
    outbox: IntGaugeVec,
}

impl RiskGauges {
    /// Create and register the gauges.
    pub fn register(registry: &Registry) -> Result<RiskGauges, prometheus::Error> {
        let risks = IntGaugeVec::new(
            Opts::new(
                "vigie_risks",
                "Open risks of the register by level and treatment.",
            ),
            &["level", "treatment"],
        )?;
        let actions = IntGaugeVec::new(
            Opts::new(
                "vigie_actions",
                "Improvement-plan actions by priority and state (open, overdue, done, cancelled).",
            ),
            &["priority", "state"],
        )?;
        let progress = GaugeVec::new(
            Opts::new(
                "vigie_action_plan_progress_ratio",
                "Share of the plan's actions done, per priority: done / (all - cancelled); absent \
                 when a priority has no action.",
            ),
            &["priority"],
        )?;
        let exceptions = IntGaugeVec::new(
            Opts::new(
                "vigie_exceptions",
                "Exceptions by state: active (in force, > 30 days left), expiring (in force, <= 30 \
                 days left), expired, scheduled, revoked. In force = active + expiring.",
            ),
            &["state"],
        )?;
        let reviews_overdue = IntGauge::new(
            "vigie_risk_reviews_overdue",
            "Open risks whose next review date has passed.",
        )?;
        let outbox = IntGaugeVec::new(
            Opts::new(
                "vigie_webhook_outbox",
                "Webhook notifications by delivery state (pending, delivered, dead).",
            ),
            &["state"],
        )?;
        registry.register(Box::new(risks.clone()))?;
        registry.register(Box::new(actions.clone()))?;
        registry.register(Box::new(progress.clone()))?;
        registry.register(Box::new(exceptions.clone()))?;
        registry.register(Box::new(reviews_overdue.clone()))?;
        registry.register(Box::new(outbox.clone()))?;
        Ok(RiskGauges {
            risks,
            actions,
            progress,
            exceptions,
            reviews_overdue,
            outbox,
        })
    }

    /// Recompute from the store at `now` (blocking).
    pub fn refresh(&self, store: &Store, now: i64) -> Result<(), StoreError> {
        let today = super::today(now);
        let (risks, actions, exceptions, outbox) = store.read(|c| {
            Ok((
                crate::store::risks::list(c)?,
                crate::store::actions::list(c, today)?,
                crate::store::exceptions::list(c)?,
                crate::store::webhooks::counts(c)?,
            ))
        })?;
        for l in Level::ALL {
            for t in Treatment::ALL {
                let n = risks
                    .iter()
                    .filter(|r| r.status == RiskStatus::Open && r.level == *l && r.treatment == *t)
                    .count();
                self.risks
                    .with_label_values(&[l.as_str(), t.as_str()])
                    .set(n as i64);
            }
        }
        self.reviews_overdue
            .set(risks.iter().filter(|r| review_overdue(r, today)).count() as i64);
        self.progress.reset();
        for p in Priority::ALL {
            for s in ActionState::ALL {
                let n = actions
                    .iter()
                    .filter(|a| a.priority == *p && a.state == *s)
                    .count();
                self.actions
                    .with_label_values(&[p.as_str(), s.as_str()])
                    .set(n as i64);
            }
            if let Some(r) = progress(&actions, *p) {
                self.progress.with_label_values(&[p.as_str()]).set(r);
            }
        }
        for s in ExceptionState::ALL {
            let n = exceptions.iter().filter(|e| e.state(now) == *s).count();
            self.exceptions
                .with_label_values(&[s.as_str()])
                .set(n as i64);
        }
        for s in ["pending", "delivered", "dead"] {
            let n = outbox
                .iter()
                .find(|(k, _)| k == s)
                .map(|(_, n)| *n)
                .unwrap_or(0);
            self.outbox.with_label_values(&[s]).set(n);
        }
        Ok(())
    }
}
