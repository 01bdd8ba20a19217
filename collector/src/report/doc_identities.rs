//! Layout of the identity MFA section (`identities`) in one language: the coverage table per
//! source and overall against the target (stale sources shown with their last good sync and why,
//! never judged), the trend chart and table, then the accounts without a strong second factor by
//! name (the names are in the report only, never in the metrics).

use super::doc::{Block, Cell, Section, Tone, DASH};
use super::i18n::{self, Lang, Msg};
use super::identities::{IdentitySection, MfaCounts, StaleReason, TargetStatus};
use super::model::IndicatorUnit;
use crate::kpi::KpiStatus;

fn pct(lang: Lang, v: Option<f64>) -> String {
    v.map_or_else(|| DASH.to_string(), |v| i18n::percent(lang, v))
}

fn status_cell(lang: Lang, s: TargetStatus) -> Cell {
    match s {
        TargetStatus::Met => Cell::text(Msg::StatusMet.text(lang)).tone(Tone::Good),
        TargetStatus::NotMet => Cell::text(Msg::StatusNotMet.text(lang)).tone(Tone::Bad),
        TargetStatus::Stale => Cell::text(Msg::IdStatusStale.text(lang)).tone(Tone::Muted),
        TargetStatus::NoData => Cell::text(Msg::StatusNoData.text(lang)).tone(Tone::Muted),
    }
}

fn count_cells(lang: Lang, c: &MfaCounts, has_data: bool) -> Vec<Cell> {
    let n = |v: i64| Cell::num(if has_data { v.to_string() } else { DASH.into() });
    vec![
        n(c.members),
        n(c.strong),
        n(c.weak_only),
        n(c.without_mfa),
        n(c.unknown),
        Cell::num(pct(lang, c.coverage)),
        n(c.admins),
        n(c.admins_without_mfa),
        Cell::num(if has_data {
            format!("{} ({})", c.guests, c.guests_without_mfa)
        } else {
            DASH.into()
        }),
    ]
}

/// Why a source is stale, in `lang`.
pub fn stale_reason(lang: Lang, r: &StaleReason) -> String {
    match r {
        StaleReason::NeverSynced => Msg::IdNever.text(lang).to_string(),
        // The error names the API URL it failed on; shown without its scheme so the report holds
        // no link (it is inert text either way).
        StaleReason::LastSyncFailed { at, error } => format!(
            "{} {} ({})",
            Msg::IdFailed.text(lang),
            i18n::time(lang, *at),
            error.replace("https://", "").replace("http://", "")
        ),
        StaleReason::TooOld { age_hours } => format!(
            "{} {age_hours} {}",
            Msg::IdTooOld.text(lang),
            Msg::IdHours.text(lang)
        ),
    }
}

fn kind_label(lang: Lang, kind: &str, admin: bool) -> String {
    let k = match kind {
        "guest" => Msg::IdGuest,
        "outside_collaborator" => Msg::IdOutside,
        _ => Msg::IdMember,
    }
    .text(lang);
    if admin {
        format!("{}, {k}", Msg::IdAdmin.text(lang))
    } else {
        k.to_string()
    }
}

/// The section in `lang`.
pub fn section(s: &IdentitySection, lang: Lang) -> Section {
    let mut blocks = vec![Block::Para(Msg::IdIntro.text(lang).to_string())];
    let head = [
        Msg::IdSource,
        Msg::IdLastSync,
        Msg::IdMembers,
        Msg::IdStrong,
        Msg::IdWeak,
        Msg::IdNone,
        Msg::IdUnknown,
        Msg::Coverage,
        Msg::IdAdmins,
        Msg::IdAdminsNone,
        Msg::IdGuests,
        Msg::Status,
    ]
    .map(|m| m.text(lang).to_string())
    .to_vec();
    let mut rows: Vec<Vec<Cell>> = s
        .sources
        .iter()
        .map(|src| {
            let mut row = vec![
                Cell::text(&src.source),
                Cell::text(
                    src.last_success_at
                        .map_or_else(|| DASH.to_string(), |t| i18n::time(lang, t)),
                ),
            ];
            row.extend(count_cells(
                lang,
                &src.counts,
                src.last_success_at.is_some(),
            ));
            row.push(status_cell(lang, src.status));
            row
        })
        .collect();
    let mut total = vec![Cell::text(Msg::IdAllSources.text(lang)), Cell::text("")];
    total.extend(count_cells(
        lang,
        &s.overall,
        s.sources.iter().any(|x| x.last_success_at.is_some()),
    ));
    total.push(status_cell(lang, s.status));
    rows.push(total);
    blocks.push(Block::Table(head, rows));
    blocks.push(Block::Para(format!(
        "{} · {}",
        i18n::kv(lang, Msg::Target.text(lang), &i18n::percent(lang, s.target)),
        i18n::kv(
            lang,
            Msg::IdAdminCoverage.text(lang),
            &pct(lang, s.overall.admin_coverage)
        )
    )));
    let stale: Vec<String> = s
        .sources
        .iter()
        .filter_map(|src| {
            let r = src.stale.as_ref()?;
            let mut line = i18n::kv(lang, &src.source, &stale_reason(lang, r));
            if src.failures_in_month > 0 {
                line = format!(
                    "{line}; {} {}",
                    src.failures_in_month,
                    Msg::IdFailuresInMonth.text(lang)
                );
            }
            Some(line)
        })
        .collect();
    if !stale.is_empty() {
        blocks.push(Block::Sub(Msg::IdStaleHeading.text(lang).to_string()));
        blocks.push(Block::List(stale));
    }
    // Trend: the pooled coverage per month, then one row per source.
    let label = |m: &str| {
        chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .map_or_else(|_| m.to_string(), |d| i18n::month_short(lang, d))
    };
    let points: Vec<(String, Option<f64>)> =
        s.trend.iter().map(|p| (label(&p.month), p.value)).collect();
    blocks.push(Block::Sub(format!(
        "{} — {}",
        Msg::IdTrendTitle.text(lang),
        Msg::Trend12.text(lang)
    )));
    blocks.push(Block::Line {
        title: format!(
            "{} — {}",
            Msg::IdTrendTitle.text(lang),
            Msg::Trend12.text(lang)
        ),
        points: points.clone(),
        target: Some(s.target),
        unit: IndicatorUnit::Ratio,
    });
    let mut head = vec![Msg::Month.text(lang).to_string()];
    head.extend(points.iter().map(|(m, _)| m.clone()));
    let trend_tone = |st: KpiStatus| match st {
        KpiStatus::Met => Tone::Good,
        KpiStatus::NotMet => Tone::Bad,
        _ => Tone::Muted,
    };
    let trend_row = |name: &str, trend: &[super::model::TrendPoint]| {
        let mut row = vec![Cell::text(name)];
        row.extend(
            trend
                .iter()
                .map(|p| Cell::num(pct(lang, p.value)).tone(trend_tone(p.status))),
        );
        row
    };
    let mut trows = vec![trend_row(Msg::IdAllSources.text(lang), &s.trend)];
    trows.extend(s.sources.iter().map(|x| trend_row(&x.source, &x.trend)));
    blocks.push(Block::Table(head, trows));
    blocks.push(Block::Para(Msg::IdTrendNote.text(lang).to_string()));
    // The accounts, by name.
    blocks.push(Block::Sub(Msg::IdAccountsHeading.text(lang).to_string()));
    if s.accounts.is_empty() {
        blocks.push(Block::Para(Msg::IdNoAccount.text(lang).to_string()));
    } else {
        let head = [
            Msg::IdSource,
            Msg::IdLogin,
            Msg::IdDisplayName,
            Msg::IdRole,
            Msg::IdState,
            Msg::IdSince,
        ]
        .map(|m| m.text(lang).to_string())
        .to_vec();
        let rows = s
            .accounts
            .iter()
            .map(|a| {
                let (state, tone) = if a.status == "fail" {
                    (Msg::IdNoFactor, Tone::Bad)
                } else {
                    (Msg::IdWeakOnly, Tone::Plain)
                };
                vec![
                    Cell::text(&a.source),
                    Cell::text(&a.login),
                    Cell::text(&a.display_name),
                    Cell::text(kind_label(lang, &a.kind, a.admin)),
                    Cell::text(state.text(lang)).tone(tone),
                    Cell::text(i18n::time(lang, a.since)),
                ]
            })
            .collect();
        blocks.push(Block::Table(head, rows));
    }
    Section {
        id: "identities",
        title: Msg::IdHeading.text(lang).to_string(),
        blocks,
    }
}
