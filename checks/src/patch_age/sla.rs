//! The SLA judgement for platforms whose pending updates carry one age each (macOS, Windows):
//! past the SLA is `fail`, within the warning margin of it `warn`, else `pass`; the sentence names
//! up to five updates. (Linux judges per package with advisory dates and index dates: patch_age.rs.)

use crate::result::Status;

/// What the pending updates amount to against the SLA.
pub(super) struct SlaVerdict {
    pub status: Status,
    /// One clause for the summary.
    pub sentence: String,
    /// Updates past the SLA (fact `over_sla`).
    pub over: usize,
    /// Updates within the warning margin of it (fact `near_sla`).
    pub near: usize,
}

/// Judge `(label, age_days)` per pending update; `noun` names one (`Apple update`).
pub(super) fn judge(aged: &[(String, i64)], sla: i64, margin: i64, noun: &str) -> SlaVerdict {
    let over: Vec<&str> = aged
        .iter()
        .filter(|(_, age)| *age > sla)
        .map(|(l, _)| l.as_str())
        .collect();
    let near: Vec<&str> = aged
        .iter()
        .filter(|(_, age)| *age <= sla && margin > 0 && *age > sla - margin)
        .map(|(l, _)| l.as_str())
        .collect();
    let list = |v: &[&str]| {
        let mut s: Vec<String> = v.iter().take(5).map(|l| l.to_string()).collect();
        if v.len() > 5 {
            s.push(format!("and {} more", v.len() - 5));
        }
        s.join(", ")
    };
    let (status, sentence) = if !over.is_empty() {
        let n = over.len();
        let sentence = format!(
            "{n} {noun}(s) pending longer than the {sla}-day SLA: {}",
            list(&over)
        );
        (Status::Fail, sentence)
    } else if !near.is_empty() {
        let n = near.len();
        let sentence = format!(
            "{n} {noun}(s) within {margin} days of the {sla}-day SLA: {}",
            list(&near)
        );
        (Status::Warn, sentence)
    } else if aged.is_empty() {
        (Status::Pass, format!("no {noun} pending"))
    } else {
        let all: Vec<&str> = aged.iter().map(|(l, _)| l.as_str()).collect();
        let sentence = format!(
            "{} {noun}(s) pending within the {sla}-day SLA: {}",
            aged.len(),
            list(&all)
        );
        (Status::Pass, sentence)
    };
    SlaVerdict {
        status,
        sentence,
        over: over.len(),
        near: near.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_within_margin_and_inside_the_sla() {
        let a = |age| ("u".to_string(), age);
        // SLA 30, margin 5: 31 is past, 26..=30 within the margin, 25 inside.
        let v = judge(&[a(31), a(26)], 30, 5, "update");
        assert_eq!((v.status, v.over, v.near), (Status::Fail, 1, 1));
        assert!(v
            .sentence
            .starts_with("1 update(s) pending longer than the 30-day SLA"));
        assert_eq!(judge(&[a(30)], 30, 5, "update").status, Status::Warn);
        assert_eq!(judge(&[a(25)], 30, 5, "update").status, Status::Pass);
        assert_eq!(judge(&[a(30)], 30, 0, "update").status, Status::Pass);
        assert_eq!(judge(&[], 30, 5, "update").sentence, "no update pending");
        let many: Vec<_> = (0..7).map(|_| a(40)).collect();
        assert!(judge(&many, 30, 5, "update")
            .sentence
            .ends_with("and 2 more"));
    }
}
