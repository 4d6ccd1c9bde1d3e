//! From verified claims to what the user gets: identity, account and permissions (the
//! issuer's base permissions plus those of every role the token carries, with
//! `{{claim(NAME)}}` templates filled in).

use std::collections::{BTreeMap, HashSet};

use rnats_config::{PermissionsConfig, SubjectPermission};
use serde_json::{Map, Value};

/// Most subjects one user's permissions may expand to (list claims multiply entries).
pub(crate) const MAX_EXPANDED_SUBJECTS: usize = 1024;
/// Longest claim value used as identity, account or subject token.
pub(crate) const MAX_CLAIM_VALUE: usize = 256;

pub(crate) type Claims = Map<String, Value>;

/// A claim as one string: a string, or an integer written in decimal.
pub(crate) fn string_claim(claims: &Claims, name: &str) -> Result<String, String> {
    let s = match claims.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        Some(Value::Null) | None => return Err(format!("claim \"{name}\" is missing")),
        Some(_) => return Err(format!("claim \"{name}\" is not a string")),
    };
    if s.is_empty() {
        return Err(format!("claim \"{name}\" is empty"));
    }
    if s.len() > MAX_CLAIM_VALUE {
        return Err(format!(
            "claim \"{name}\" is longer than {MAX_CLAIM_VALUE} bytes"
        ));
    }
    Ok(s)
}

/// A claim's values: a string (or integer) is one value, a list of strings is many.
fn claim_values(claims: &Claims, name: &str) -> Result<Vec<String>, String> {
    match claims.get(name) {
        Some(Value::Array(items)) => {
            let values: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if values.is_empty() || values.len() != items.len() {
                return Err(format!(
                    "claim \"{name}\" is not a non-empty list of strings"
                ));
            }
            Ok(values)
        }
        _ => string_claim(claims, name).map(|s| vec![s]),
    }
}

/// The roles a token carries: a list of strings, or a space-separated string (`scope`).
pub(crate) fn roles(claims: &Claims, name: &str) -> HashSet<String> {
    match claims.get(name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => HashSet::new(),
    }
}

/// Whether `v` may stand in for one token of a subject: no separators, wildcards, blanks.
fn subject_token(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_CLAIM_VALUE
        && !v
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control())
}

/// Expands the templates of one subject: one subject per combination of list values.
fn expand(subject: &str, claims: &Claims, out: &mut Vec<String>) -> Result<(), String> {
    let Some(start) = subject.find("{{") else {
        out.push(subject.to_owned());
        return Ok(());
    };
    let after = &subject[start + 2..];
    let end = after
        .find("}}")
        .ok_or_else(|| format!("template in {subject:?} is not terminated"))?;
    let name = after[..end]
        .trim()
        .strip_prefix("claim(")
        .and_then(|s| s.strip_suffix(')'))
        .map(str::trim)
        .ok_or_else(|| format!("template in {subject:?} is not {{{{claim(NAME)}}}}"))?;
    let values = claim_values(claims, name).map_err(|e| format!("permission template: {e}"))?;
    let rest = &after[end + 2..];
    for v in values {
        if !subject_token(&v) {
            return Err(format!(
                "permission template: claim \"{name}\" value {v:?} cannot be used in a subject"
            ));
        }
        let filled = format!("{}{v}{rest}", &subject[..start]);
        expand(&filled, claims, out)?;
        if out.len() > MAX_EXPANDED_SUBJECTS {
            return Err(format!(
                "permission templates expand to more than {MAX_EXPANDED_SUBJECTS} subjects"
            ));
        }
    }
    Ok(())
}

fn expand_list(list: &[String], claims: &Claims, out: &mut Vec<String>) -> Result<(), String> {
    for s in list {
        expand(s, claims, out)?;
    }
    Ok(())
}

/// The issuer's base permissions plus every matched role's, templates filled in.
///
/// `None` when the issuer configures neither `permissions` nor `roles` (everything allowed,
/// as for a user without permissions). Otherwise only what an allow list grants is allowed:
/// a direction no contributor allows anything in is denied entirely (`deny: ">"`), so a user
/// without a matching role gets nothing rather than everything.
pub(crate) fn permissions(
    base: Option<&PermissionsConfig>,
    role_perms: &BTreeMap<String, PermissionsConfig>,
    roles_claim: Option<&str>,
    claims: &Claims,
) -> Result<Option<PermissionsConfig>, String> {
    if base.is_none() && role_perms.is_empty() {
        return Ok(None);
    }
    let held = roles_claim.map(|c| roles(claims, c)).unwrap_or_default();
    let mut parts: Vec<&PermissionsConfig> = base.into_iter().collect();
    parts.extend(
        role_perms
            .iter()
            .filter(|(name, _)| held.contains(*name))
            .map(|(_, p)| p),
    );
    let (mut pub_allow, mut pub_deny, mut sub_allow, mut sub_deny) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut responses = None;
    for p in &parts {
        if let Some(sp) = &p.publish {
            expand_list(&sp.allow, claims, &mut pub_allow)?;
            expand_list(&sp.deny, claims, &mut pub_deny)?;
        }
        if let Some(sp) = &p.subscribe {
            expand_list(&sp.allow, claims, &mut sub_allow)?;
            expand_list(&sp.deny, claims, &mut sub_deny)?;
        }
        if responses.is_none() {
            responses = p.allow_responses;
        }
    }
    if pub_allow.len() + pub_deny.len() + sub_allow.len() + sub_deny.len() > MAX_EXPANDED_SUBJECTS {
        return Err(format!(
            "permission templates expand to more than {MAX_EXPANDED_SUBJECTS} subjects"
        ));
    }
    if pub_allow.is_empty() && responses.is_none() {
        pub_deny.push(">".into());
    }
    if sub_allow.is_empty() {
        sub_deny.push(">".into());
    }
    for l in [&mut pub_allow, &mut pub_deny, &mut sub_allow, &mut sub_deny] {
        l.sort();
        l.dedup();
    }
    let mut cfg = PermissionsConfig::default();
    cfg.publish = Some(SubjectPermission::new(pub_allow, pub_deny));
    cfg.subscribe = Some(SubjectPermission::new(sub_allow, sub_deny));
    cfg.allow_responses = responses;
    Ok(Some(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    fn perms(publish: &[&str], subscribe: &[&str]) -> PermissionsConfig {
        let mut p = PermissionsConfig::default();
        let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        p.publish = Some(SubjectPermission::new(own(publish), vec![]));
        p.subscribe = Some(SubjectPermission::new(own(subscribe), vec![]));
        p
    }

    #[test]
    fn templates_fill_strings_and_expand_lists() {
        let c = claims(json!({"sub": "u1", "groups": ["a", "b"], "n": 7, "bad": "x.>"}));
        let mut out = Vec::new();
        expand("svc.{{claim(sub)}}.>", &c, &mut out).unwrap();
        expand("g.{{ claim(groups) }}.{{claim(n)}}", &c, &mut out).unwrap();
        assert_eq!(out, ["svc.u1.>", "g.a.7", "g.b.7"]);
        assert_eq!(
            expand("x.{{claim(missing)}}", &c, &mut out).unwrap_err(),
            "permission template: claim \"missing\" is missing"
        );
        assert!(
            expand("x.{{claim(bad)}}", &c, &mut out)
                .unwrap_err()
                .contains("cannot be used in a subject")
        );
    }

    #[test]
    fn roles_add_permissions_and_nothing_matched_denies_all() {
        let base = perms(&["svc.{{claim(sub)}}.>"], &["_INBOX.>"]);
        let mut roles_cfg = BTreeMap::new();
        roles_cfg.insert("admin".to_owned(), perms(&[">"], &[">"]));
        roles_cfg.insert("orders:read".to_owned(), perms(&[], &["orders.>"]));

        let c = claims(json!({"sub": "u1", "scope": "openid orders:read"}));
        let p = permissions(Some(&base), &roles_cfg, Some("scope"), &c)
            .unwrap()
            .unwrap();
        assert_eq!(p.publish.unwrap().allow, ["svc.u1.>"]);
        assert_eq!(p.subscribe.unwrap().allow, ["_INBOX.>", "orders.>"]);

        let c = claims(json!({"sub": "u1"}));
        let p = permissions(None, &roles_cfg, Some("groups"), &c)
            .unwrap()
            .unwrap();
        assert_eq!(p.publish.unwrap().deny, [">"], "no role: nothing allowed");
        assert_eq!(p.subscribe.unwrap().deny, [">"]);

        assert!(
            permissions(None, &BTreeMap::new(), None, &c)
                .unwrap()
                .is_none()
        );
    }
}
