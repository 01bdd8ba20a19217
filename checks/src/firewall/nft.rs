//! `nft -j list ruleset`: does an input-hook filter chain deny inbound by default?

use std::collections::BTreeMap;

use serde_json::Value;

use super::Families;

/// (family, table, chain); mapped to (policy, the last rule's expressions).
type ChainKey = (String, String, String);

/// Judge the JSON rule set. A chain denies when its policy is `drop`, or when its last rule is an
/// unconditional `drop`/`reject` (only `counter` and `log` may precede the verdict). Any structure
/// other than the documented `{"nftables": [...]}` is an error.
pub(crate) fn judge(json: &str) -> Result<Families, String> {
    let root: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let items = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("no top-level \"nftables\" array")?;
    let mut chains: BTreeMap<ChainKey, (String, Option<Vec<Value>>)> = BTreeMap::new();
    let key = |o: &Value, name: &str| -> Result<ChainKey, String> {
        let s = |k: &str| {
            o.get(k)
                .and_then(Value::as_str)
                .map(String::from)
                .ok_or(format!("a {name} without a string \"{k}\""))
        };
        Ok((
            s("family")?,
            s("table")?,
            s(if name == "chain" { "name" } else { "chain" })?,
        ))
    };
    for item in items {
        if let Some(c) = item.get("chain") {
            let is_input_filter = c.get("hook").and_then(Value::as_str) == Some("input")
                && c.get("type").and_then(Value::as_str) == Some("filter");
            if !is_input_filter {
                continue;
            }
            let k = key(c, "chain")?;
            let policy = match c.get("policy") {
                None => "accept".to_string(),
                Some(Value::String(p)) if p == "accept" || p == "drop" => p.clone(),
                Some(other) => {
                    return Err(format!(
                        "chain {} {}/{}: policy {other} is neither accept nor drop",
                        k.0, k.1, k.2
                    ))
                }
            };
            chains.insert(k, (policy, None));
        } else if let Some(r) = item.get("rule") {
            let k = key(r, "rule")?;
            if let Some(entry) = chains.get_mut(&k) {
                let expr = r.get("expr").and_then(Value::as_array).ok_or(format!(
                    "a rule of {} {}/{} without \"expr\"",
                    k.0, k.1, k.2
                ))?;
                entry.1 = Some(expr.clone());
            }
        }
    }
    let mut out = Families::default();
    for ((family, table, chain), (policy, last)) in &chains {
        let (v4, v6) = match family.as_str() {
            "inet" => (true, true),
            "ip" => (true, false),
            "ip6" => (false, true),
            _ => continue,
        };
        let name = format!("nftables {family} {table}/{chain}");
        out.chains.push(format!("{name} policy {policy}"));
        let deny = if policy == "drop" {
            Some(format!("{name} policy drop"))
        } else {
            last.as_deref()
                .and_then(final_verdict)
                .map(|v| format!("{name} ends with an unconditional {v}"))
        };
        if let Some(d) = deny {
            if v4 && out.v4.is_none() {
                out.v4 = Some(d.clone());
            }
            if v6 && out.v6.is_none() {
                out.v6 = Some(d);
            }
        }
    }
    Ok(out)
}

/// `Some("drop")`/`Some("reject")` when the rule matches every packet and ends in that verdict.
fn final_verdict(expr: &[Value]) -> Option<&'static str> {
    let (last, before) = expr.split_last()?;
    let verdict = if last.get("drop").is_some() {
        "drop"
    } else if last.get("reject").is_some() {
        "reject"
    } else {
        return None;
    };
    let only_side_effects = before.iter().all(|e| {
        e.as_object()
            .is_some_and(|o| o.len() == 1 && (o.contains_key("counter") || o.contains_key("log")))
    });
    (last.as_object().is_some_and(|o| o.len() == 1) && only_side_effects).then_some(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(chain: &str, rules: &[&str]) -> String {
        let mut items = vec![
            r#"{"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schema_version":1}}"#.to_string(),
            r#"{"table":{"family":"inet","name":"filter","handle":1}}"#.to_string(),
            chain.to_string(),
        ];
        for r in rules {
            items.push(format!(
                r#"{{"rule":{{"family":"inet","table":"filter","chain":"input","handle":9,"expr":{r}}}}}"#
            ));
        }
        format!(r#"{{"nftables":[{}]}}"#, items.join(","))
    }
    const ACCEPT: &str = r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}}"#;
    const DROP: &str = r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#;

    #[test]
    fn policy_drop_denies_both_families() {
        let f = judge(&rs(DROP, &[])).unwrap();
        assert!(f.v4.as_deref().unwrap().contains("policy drop"));
        assert!(f.v6.is_some());
    }

    #[test]
    fn accept_with_final_unconditional_reject_denies() {
        let f = judge(&rs(
            ACCEPT,
            &[
                r#"[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}]"#,
                r#"[{"counter":{"packets":0,"bytes":0}},{"reject":{"type":"icmpx","expr":"admin-prohibited"}}]"#,
            ],
        ))
        .unwrap();
        assert!(f.v4.as_deref().unwrap().contains("unconditional reject"));
    }

    #[test]
    fn accept_with_conditional_final_drop_does_not_deny() {
        let f = judge(&rs(
            ACCEPT,
            &[r#"[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"eth0"}},{"drop":null}]"#],
        ))
        .unwrap();
        assert_eq!(f.v4, None);
        assert_eq!(f.chains.len(), 1);
    }

    #[test]
    fn unknown_shapes_are_errors() {
        assert!(judge("{}").is_err());
        assert!(judge("not json").is_err());
        let bad = DROP.replace("\"drop\"}}", "\"queue\"}}");
        assert!(judge(&rs(&bad, &[])).unwrap_err().contains("policy"));
    }
}
