//! Operations shared by the HTTP API and the CLI: validate with the domain rules, then read or
//! write through `store`. Each runs on one connection (the writer's, or the CLI's) and validates
//! everything before its first write, so a refused request changes nothing.

use rusqlite::Connection;

use super::actions::{self, Action, ActionInput, CloseRequest};
use super::exceptions::{self, Exception, ExceptionRequest};
use super::matrix::Matrix;
use super::register::{self, Risk, RiskChange, RiskInput};
use super::RiskError;
use crate::config::CollectorConfig;
use crate::store;

/// Every risk, with `review_overdue` at `now`.
pub fn list_risks(c: &Connection, now: i64) -> Result<Vec<Risk>, RiskError> {
    let today = super::today(now);
    let mut v = store::risks::list(c)?;
    for r in &mut v {
        r.review_overdue = register::review_overdue(r, today);
    }
    Ok(v)
}

/// One risk with its history.
pub fn get_risk(c: &Connection, id: i64, now: i64) -> Result<(Risk, Vec<RiskChange>), RiskError> {
    let mut r = store::risks::get(c, id)?
        .ok_or_else(|| RiskError::NotFound(format!("no risk with id {id}")))?;
    r.review_overdue = register::review_overdue(&r, super::today(now));
    let h = store::risks::history(c, id)?;
    Ok((r, h))
}

/// Create a manual risk.
pub fn create_risk(
    c: &Connection,
    input: &RiskInput,
    cfg: &CollectorConfig,
    actor: &str,
    now: i64,
) -> Result<i64, RiskError> {
    let m = Matrix::from_config(&cfg.risk.matrix);
    let r = register::create(input, &m, cfg.risk.review_days, now)?;
    Ok(store::risks::insert(
        c,
        &r,
        actor,
        input.note.as_deref().unwrap_or(""),
        now,
    )?)
}

/// Update a risk; returns it after the change (unchanged when nothing differs).
pub fn update_risk(
    c: &Connection,
    id: i64,
    input: &RiskInput,
    cfg: &CollectorConfig,
    actor: &str,
    now: i64,
) -> Result<Risk, RiskError> {
    let cur = store::risks::get(c, id)?
        .ok_or_else(|| RiskError::NotFound(format!("no risk with id {id}")))?;
    let m = Matrix::from_config(&cfg.risk.matrix);
    let mut next = register::apply(&cur, input, &m, cfg.risk.review_days, now)?;
    let changes = register::diff(Some(&cur), &next);
    if store::risks::update(
        c,
        &next,
        &changes,
        actor,
        input.note.as_deref().unwrap_or(""),
        now,
    )? {
        next.updated_at = now;
    }
    next.review_overdue = register::review_overdue(&next, super::today(now));
    Ok(next)
}

/// Import manual risks from CSV text (all or nothing); returns the new ids.
pub fn import_risks(
    c: &Connection,
    text: &str,
    cfg: &CollectorConfig,
    actor: &str,
    now: i64,
) -> Result<Vec<i64>, RiskError> {
    let m = Matrix::from_config(&cfg.risk.matrix);
    let risks = register::parse_import(text, &m, cfg.risk.review_days, now)?;
    let mut ids = Vec::new();
    for r in &risks {
        ids.push(store::risks::insert(c, r, actor, "CSV import", now)?);
    }
    Ok(ids)
}

/// Every action with its state at `now`.
pub fn list_actions(c: &Connection, now: i64) -> Result<Vec<Action>, RiskError> {
    Ok(store::actions::list(c, super::today(now))?)
}

/// Create an action.
pub fn create_action(c: &Connection, input: &ActionInput, now: i64) -> Result<i64, RiskError> {
    let a = actions::new_action(input, super::today(now))?;
    Ok(store::actions::insert(c, &a, now)?)
}

/// Update an action (and link more risks).
pub fn update_action(
    c: &Connection,
    id: i64,
    input: &ActionInput,
    now: i64,
) -> Result<Action, RiskError> {
    let today = super::today(now);
    let cur = store::actions::get(c, id, today)?
        .ok_or_else(|| RiskError::NotFound(format!("no action with id {id}")))?;
    let next = actions::apply_update(&cur, input)?;
    store::actions::update(c, &next, now)?;
    store::actions::link(c, id, &input.risks, now)?;
    store::actions::get(c, id, today)?
        .ok_or_else(|| RiskError::NotFound(format!("no action with id {id}")))
}

/// Close an action with evidence and an approver holding the approving role.
pub fn close_action(
    c: &Connection,
    id: i64,
    req: &CloseRequest,
    cfg: &CollectorConfig,
    now: i64,
) -> Result<Action, RiskError> {
    let today = super::today(now);
    let cur = store::actions::get(c, id, today)?
        .ok_or_else(|| RiskError::NotFound(format!("no action with id {id}")))?;
    let (ev, approver) = actions::validate_close(
        cur.status,
        req,
        |p| cfg.actions.is_approver(p),
        &cfg.actions.approver_role,
    )?;
    store::actions::close(c, id, &ev, &approver, now)?;
    store::actions::get(c, id, today)?
        .ok_or_else(|| RiskError::NotFound(format!("no action with id {id}")))
}

/// Every exception.
pub fn list_exceptions(c: &Connection) -> Result<Vec<Exception>, RiskError> {
    Ok(store::exceptions::list(c)?)
}

/// Grant an exception.
pub fn grant_exception(
    c: &Connection,
    req: &ExceptionRequest,
    cfg: &CollectorConfig,
    now: i64,
) -> Result<i64, RiskError> {
    let e = exceptions::validate_request(
        req,
        &cfg.hosts,
        |p| cfg.actions.is_approver(p),
        &cfg.actions.approver_role,
        now,
    )?;
    Ok(store::exceptions::insert(c, &e, now)?)
}

/// Revoke an exception.
pub fn revoke_exception(c: &Connection, id: i64, by: &str, now: i64) -> Result<(), RiskError> {
    if by.trim().is_empty() {
        return Err(RiskError::invalid("by", "who revokes is required"));
    }
    crate::host_identity::check_title("by", by.trim())
        .map_err(|e| RiskError::invalid("by", e.problem))?;
    if !store::exceptions::list(c)?.iter().any(|e| e.id == id) {
        return Err(RiskError::NotFound(format!("no exception with id {id}")));
    }
    Ok(store::exceptions::revoke(c, id, by.trim(), now)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let d = tempfile::tempdir().unwrap();
        let mut c = Connection::open(d.path().join("v.db")).unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        store::migrations::migrate(&mut c).unwrap();
        (d, c)
    }

    fn cfg() -> CollectorConfig {
        let mut cfg = CollectorConfig::default();
        cfg.actions
            .roles
            .insert("rssi".into(), vec!["alice".into()]);
        cfg
    }

    #[test]
    fn risk_lifecycle_keeps_history_and_links_actions() {
        let (_d, c) = db();
        let cfg = cfg();
        let id = create_risk(
            &c,
            &RiskInput {
                title: Some("ERP outage".into()),
                likelihood: Some(2),
                impact: Some(3),
                treatment: Some("reduce".into()),
                owner: Some("bob".into()),
                ..Default::default()
            },
            &cfg,
            "bob",
            0,
        )
        .unwrap();
        let r = update_risk(
            &c,
            id,
            &RiskInput {
                impact: Some(4),
                note: Some("ERP now hosts payroll".into()),
                ..Default::default()
            },
            &cfg,
            "alice",
            100,
        )
        .unwrap();
        // 2 × 4 = 8 → high.
        assert_eq!(r.level, super::super::Level::High);
        // An update that changes nothing records nothing.
        update_risk(&c, id, &RiskInput::default(), &cfg, "alice", 200).unwrap();
        let a = create_action(
            &c,
            &ActionInput {
                title: Some("Second ERP node".into()),
                priority: Some("p1".into()),
                owner: Some("ops".into()),
                risks: vec![id],
                ..Default::default()
            },
            0,
        )
        .unwrap();
        let (r, h) = get_risk(&c, id, 300).unwrap();
        assert_eq!(r.actions, vec![a]);
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].actor, "alice");
        assert_eq!(h[1].note, "ERP now hosts payroll");
        assert_eq!(
            h[1].changes.keys().collect::<Vec<_>>(),
            vec!["impact", "level"]
        );
        // 1970-01-01 + 90 days = 1970-04-01; on 1970-04-02 the review is overdue.
        let (r, _) = get_risk(&c, id, 91 * 86_400).unwrap();
        assert!(r.review_overdue);
        let e = create_action(
            &c,
            &ActionInput {
                risks: vec![999],
                ..ActionInput {
                    title: Some("x".into()),
                    priority: Some("p2".into()),
                    owner: Some("o".into()),
                    ..Default::default()
                }
            },
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no risk with id 999"), "{e}");
    }

    #[test]
    fn close_refused_without_evidence_or_approver_then_accepted() {
        let (_d, c) = db();
        let cfg = cfg();
        let id = create_action(
            &c,
            &ActionInput {
                title: Some("Enable MFA on VPN".into()),
                priority: Some("p1".into()),
                owner: Some("ops".into()),
                ..Default::default()
            },
            0,
        )
        .unwrap();
        let e = close_action(&c, id, &CloseRequest::default(), &cfg, 10).unwrap_err();
        assert!(matches!(e, RiskError::CloseRefused(_)));
        assert_eq!(
            list_actions(&c, 10).unwrap()[0].status,
            actions::ActionStatus::Open
        );
        let req = CloseRequest {
            evidence_url: Some("https://tickets.example/42".into()),
            approver: Some("alice".into()),
            ..Default::default()
        };
        let a = close_action(&c, id, &req, &cfg, 20).unwrap();
        assert_eq!(a.status, actions::ActionStatus::Done);
        assert_eq!(a.approver.as_deref(), Some("alice"));
        assert_eq!(a.closed_at, Some(20));
    }

    #[test]
    fn exceptions_feed_the_aggregate_as_excepted() {
        let (_d, c) = db();
        let cfg = cfg();
        for (i, host) in ["db-1", "db-2", "web-1"].iter().enumerate() {
            c.execute(
                "INSERT INTO hosts(machine_id, hostname, node_key_hash, enrolled_at, last_seen_at, interval_s)
                 VALUES (?1, ?2, ?3, 0, 1000, 3600)",
                rusqlite::params![format!("m{i}"), host, vec![i as u8]],
            )
            .unwrap();
            let status = if *host == "web-1" { "pass" } else { "fail" };
            c.execute(
                "INSERT INTO check_state(host_id, check_name, status, summary, facts, evidence, since, updated_at)
                 VALUES (?1, 'mfa', ?2, '', '{}', '[]', 0, 0)",
                rusqlite::params![i as i64 + 1, status],
            )
            .unwrap();
        }
        let st = store::hosts::Staleness {
            now: 2000,
            after_intervals: 3,
            default_interval: 3600,
        };
        let agg = store::fleet::aggregate(&c, &st).unwrap();
        assert_eq!(
            agg.check_hosts.get(&("mfa".into(), "fail".into())),
            Some(&2)
        );
        grant_exception(
            &c,
            &ExceptionRequest {
                check: "mfa".into(),
                scope: "host".into(),
                scope_value: "db-2".into(),
                reason: "vendor appliance".into(),
                requester: "bob".into(),
                approver: "alice".into(),
                starts_at: None,
                expires_at: "1970-02-01".into(),
            },
            &cfg,
            1000,
        )
        .unwrap();
        // db-2's failure is excepted: fail 2 → 1, excepted 1; web-1 still passes.
        let agg = store::fleet::aggregate(&c, &st).unwrap();
        assert_eq!(
            agg.check_hosts.get(&("mfa".into(), "fail".into())),
            Some(&1)
        );
        assert_eq!(
            agg.check_hosts.get(&("mfa".into(), "excepted".into())),
            Some(&1)
        );
        assert_eq!(
            agg.check_hosts.get(&("mfa".into(), "pass".into())),
            Some(&1)
        );
        // Revoked: it stops applying at once.
        revoke_exception(&c, 1, "alice", 1500).unwrap();
        let agg = store::fleet::aggregate(&c, &st).unwrap();
        assert_eq!(
            agg.check_hosts.get(&("mfa".into(), "fail".into())),
            Some(&2)
        );
        assert_eq!(
            agg.check_hosts.get(&("mfa".into(), "excepted".into())),
            None
        );
    }
}
