//! The document's governance sections (risks, improvement plan, exceptions), laid out like the
//! others in `doc`.

use super::data::IndicatorUnit;
use super::doc::{value, Block, Cell, Section, Tone, DASH};
use super::governance::{ActionRow, ActionsSection, ExceptionsSection, RisksSection};
use super::i18n::{self, Lang, Msg};
use crate::risk::exceptions::{ExceptionState, ScopeKind};
use crate::risk::fleet_note::FleetNote;
use crate::risk::Level;

fn heads(lang: Lang, m: &[Msg]) -> Vec<String> {
    m.iter().map(|m| m.text(lang).to_string()).collect()
}

fn level_tone(l: Level) -> Tone {
    if l >= Level::High {
        Tone::Bad
    } else {
        Tone::Plain
    }
}

/// Short text of a stored JSON value.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => DASH.to_string(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) if m.contains_key("count") => hosts_change_text(m),
        other => other.to_string(),
    }
}

/// One side of a fleet risk's assets change (risk::fleet::assets_change): the number of failing
/// hosts, then those that left (`−`) or arrived (`+`), e.g. `12 (+2: web-9, web-10)`; `…` when
/// more changed than the history lists.
fn hosts_change_text(m: &serde_json::Map<String, serde_json::Value>) -> String {
    let count = m.get("count").map_or_else(String::new, |c| c.to_string());
    let mut parts = Vec::new();
    for (key, sign) in [("removed", '−'), ("added", '+')] {
        let Some(names) = m.get(key).and_then(|n| n.as_array()) else {
            continue;
        };
        let names: Vec<&str> = names.iter().filter_map(|n| n.as_str()).collect();
        let total = m
            .get(&format!("{key}_count"))
            .and_then(|n| n.as_u64())
            .unwrap_or(names.len() as u64);
        if total == 0 {
            continue;
        }
        let more = if total > names.len() as u64 {
            ", …"
        } else {
            ""
        };
        parts.push(format!("{sign}{total}: {}{more}", names.join(", ")));
    }
    if parts.is_empty() {
        count
    } else {
        format!("{count} ({})", parts.join("; "))
    }
}

/// A risk's title in `lang`: the shipped title of a fleet risk is translated, a person's is not.
fn risk_title(lang: Lang, stored: &str, check: Option<&str>) -> String {
    check.map_or_else(|| stored.to_string(), |c| i18n::fleet_risk_title(lang, c))
}

/// A stored history value in `lang`: levels, statuses and treatments translated, dates in the
/// report's format, lists joined; anything else as stored.
fn field_value(lang: Lang, field: &str, v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => {
            if let Some(t) = i18n::risk_value(lang, field, s) {
                return t.to_string();
            }
            if field == "next_review" {
                if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                    return i18n::day(lang, d);
                }
            }
            s.clone()
        }
        serde_json::Value::Array(items) if items.is_empty() => DASH.to_string(),
        serde_json::Value::Array(items) => {
            items.iter().map(json_text).collect::<Vec<_>>().join(", ")
        }
        other => json_text(other),
    }
}

/// Top risks and what changed.
pub fn risks(r: &RisksSection, lang: Lang) -> Section {
    let mut blocks = vec![Block::Sub(Msg::OpenRisksByLevel.text(lang).to_string())];
    let levels: Vec<&Level> = r.open_by_level.keys().rev().collect();
    blocks.push(Block::Table(
        levels
            .iter()
            .map(|l| i18n::level(lang, **l).to_string())
            .collect(),
        vec![levels
            .iter()
            .map(|l| Cell::num(r.open_by_level[l].to_string()))
            .collect()],
    ));
    blocks.push(Block::Sub(Msg::TopRisks.text(lang).to_string()));
    if r.top.is_empty() {
        blocks.push(Block::Para(Msg::NoOpenRisk.text(lang).to_string()));
    } else {
        let rows = r
            .top
            .iter()
            .map(|k| {
                let before = match k.level_before {
                    None => Msg::NewRisk.text(lang).to_string(),
                    Some(b) => i18n::level(lang, b).to_string(),
                };
                let mut title = risk_title(lang, &k.title, k.title_check.as_deref());
                if k.review_overdue {
                    title = format!("{title} ({})", Msg::ReviewOverdue.text(lang));
                }
                vec![
                    Cell::text(format!("R-{}", k.id)),
                    Cell::text(title),
                    Cell::text(i18n::level(lang, k.level)).tone(level_tone(k.level)),
                    Cell::text(before),
                    Cell::num(k.likelihood.to_string()),
                    Cell::num(k.impact.to_string()),
                    Cell::text(&k.owner),
                ]
            })
            .collect();
        blocks.push(Block::Table(
            heads(
                lang,
                &[
                    Msg::Id,
                    Msg::IncidentTitle,
                    Msg::Level,
                    Msg::LevelBefore,
                    Msg::Likelihood,
                    Msg::Impact,
                    Msg::Owner,
                ],
            ),
            rows,
        ));
    }
    blocks.push(Block::Sub(Msg::RiskChanges.text(lang).to_string()));
    if r.changes.is_empty() {
        blocks.push(Block::Para(Msg::NoRiskChange.text(lang).to_string()));
    } else {
        let rows = r
            .changes
            .iter()
            .map(|c| {
                let created = c.fields.values().all(|(from, _)| from.is_null());
                let what = if created {
                    // A creation lists every field from null: say "new" and its level.
                    let level = c
                        .fields
                        .get("level")
                        .and_then(|(_, to)| to.as_str())
                        .and_then(|l| Level::parse_field(l, "level").ok())
                        .map_or(DASH, |l| i18n::level(lang, l));
                    format!("{} ({})", Msg::NewRisk.text(lang), level)
                } else {
                    c.fields
                        .iter()
                        .map(|(k, (from, to))| {
                            i18n::kv(
                                lang,
                                &i18n::risk_field(lang, k),
                                &format!(
                                    "{} → {}",
                                    field_value(lang, k, from),
                                    field_value(lang, k, to)
                                ),
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(if lang == Lang::Fr { " ; " } else { "; " })
                };
                // A note the fleet reconciliation wrote is said in the report's language; a
                // person's own note is shown as written.
                let note = match FleetNote::parse(&c.note) {
                    Some(n) => i18n::fleet_note(lang, &n),
                    None if c.note.is_empty() => DASH.to_string(),
                    None => c.note.clone(),
                };
                vec![
                    Cell::text(format!(
                        "R-{} {}",
                        c.risk,
                        risk_title(lang, &c.title, c.title_check.as_deref())
                    )),
                    Cell::text(i18n::time(lang, c.at)),
                    Cell::text(&c.actor),
                    Cell::text(what),
                    Cell::text(note),
                ]
            })
            .collect();
        blocks.push(Block::Table(
            heads(
                lang,
                &[
                    Msg::IncidentTitle,
                    Msg::When,
                    Msg::Who,
                    Msg::WhatChanged,
                    Msg::Note,
                ],
            ),
            rows,
        ));
    }
    Section {
        id: "risks",
        title: Msg::RisksHeading.text(lang).to_string(),
        blocks,
    }
}

fn action_rows(lang: Lang, list: &[ActionRow], tone: Tone) -> Vec<Vec<Cell>> {
    list.iter()
        .map(|a| {
            vec![
                Cell::text(format!("A-{}", a.id)),
                Cell::text(&a.title),
                Cell::text(a.priority.label()),
                Cell::text(&a.owner),
                Cell::text(i18n::day(lang, a.due)).tone(tone),
            ]
        })
        .collect()
}

/// The improvement plan per priority.
pub fn actions(a: &ActionsSection, lang: Lang) -> Section {
    let rows = a
        .by_priority
        .iter()
        .map(|p| {
            vec![
                Cell::text(p.priority.label()),
                Cell::num(p.planned.to_string()),
                Cell::num(p.done.to_string()),
                Cell::num(p.done_in_month.to_string()),
                Cell::num(p.open.to_string()),
                Cell::num(p.overdue.to_string()).tone(if p.overdue > 0 {
                    Tone::Bad
                } else {
                    Tone::Plain
                }),
                Cell::num(value(lang, IndicatorUnit::Ratio, p.progress)),
            ]
        })
        .collect();
    let mut blocks = vec![Block::Table(
        heads(
            lang,
            &[
                Msg::Priority,
                Msg::Planned,
                Msg::Done,
                Msg::DoneInMonth,
                Msg::OpenNotDue,
                Msg::Overdue,
                Msg::Progress,
            ],
        ),
        rows,
    )];
    let head = heads(
        lang,
        &[
            Msg::Id,
            Msg::IncidentTitle,
            Msg::Priority,
            Msg::Owner,
            Msg::Due,
        ],
    );
    if !a.overdue.is_empty() {
        blocks.push(Block::Sub(Msg::OverdueActions.text(lang).to_string()));
        blocks.push(Block::Table(
            head.clone(),
            action_rows(lang, &a.overdue, Tone::Bad),
        ));
    }
    if !a.done_in_month.is_empty() {
        blocks.push(Block::Sub(Msg::DoneActions.text(lang).to_string()));
        blocks.push(Block::Table(
            head,
            action_rows(lang, &a.done_in_month, Tone::Plain),
        ));
    }
    Section {
        id: "actions",
        title: Msg::ActionsHeading.text(lang).to_string(),
        blocks,
    }
}

/// Exceptions active and expiring.
pub fn exceptions(e: &ExceptionsSection, lang: Lang) -> Section {
    let mut blocks = vec![Block::Table(
        Msg::ExceptionsCounts
            .text(lang)
            .split(" · ")
            .map(str::to_string)
            .collect(),
        vec![[
            e.active,
            e.expiring,
            e.granted_in_month,
            e.expired_in_month,
            e.revoked_in_month,
        ]
        .iter()
        .map(|n| Cell::num(n.to_string()))
        .collect()],
    )];
    if e.in_force.is_empty() {
        blocks.push(Block::Para(Msg::NoException.text(lang).to_string()));
    } else {
        let rows = e
            .in_force
            .iter()
            .map(|x| {
                let scope = match x.scope {
                    ScopeKind::Fleet => Msg::Fleet2.text(lang).to_string(),
                    ScopeKind::Host => format!("{} {}", Msg::ScopeHost.text(lang), x.scope_value),
                    ScopeKind::Group => {
                        format!("{} {}", Msg::ScopeGroup.text(lang), x.scope_value)
                    }
                };
                let (state, tone) = match x.state {
                    ExceptionState::Expiring => (Msg::ExcExpiring, Tone::Bad),
                    _ => (Msg::ExcActive, Tone::Plain),
                };
                vec![
                    Cell::text(format!("E-{}", x.id)),
                    Cell::text(i18n::check(lang, &x.check)),
                    Cell::text(scope),
                    Cell::text(&x.reason),
                    Cell::text(&x.approver),
                    Cell::text(i18n::day(lang, x.expires_at.date_naive())),
                    Cell::text(state.text(lang)).tone(tone),
                ]
            })
            .collect();
        blocks.push(Block::Table(
            heads(
                lang,
                &[
                    Msg::Id,
                    Msg::Check,
                    Msg::Scope,
                    Msg::Reason,
                    Msg::Approver,
                    Msg::Expires,
                    Msg::Status,
                ],
            ),
            rows,
        ));
    }
    Section {
        id: "exceptions",
        title: Msg::ExceptionsHeading.text(lang).to_string(),
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::json_text;

    #[test]
    fn a_fleet_assets_change_reads_as_counts_and_names() {
        let from =
            serde_json::json!({"count": 30, "removed": ["h000", "h001"], "removed_count": 2});
        let to = serde_json::json!({"count": 29, "added": ["h030"], "added_count": 1});
        assert_eq!(json_text(&from), "30 (−2: h000, h001)");
        assert_eq!(json_text(&to), "29 (+1: h030)");
        let many = serde_json::json!({"count": 500, "added": ["a", "b"], "added_count": 500});
        assert_eq!(json_text(&many), "500 (+500: a, b, …)");
        let none = serde_json::json!({"count": 3, "removed": [], "removed_count": 0});
        assert_eq!(json_text(&none), "3");
        // Manual risks keep their lists.
        assert_eq!(json_text(&serde_json::json!(["erp"])), "[\"erp\"]");
    }
}
