//! Permission templates of scoped signing keys (nats-server `processUserPermissionsTemplate`):
//! `{{name()}}`, `{{subject()}}`, `{{account-name()}}`, `{{account-subject()}}`,
//! `{{tag(k)}}` and `{{account-tag(k)}}` in the subjects of a scope's permissions, filled in
//! from the user JWT and its account.

use rnats_jwt::{AccountClaims, UserClaims, UserPermissionLimits};
use rnats_sublist::validate_subject;

/// Most subjects one template entry may expand to (nats-server's
/// `maxPermTemplateSubjectExpansions`).
const MAX_EXPANSIONS: usize = 4096;

/// Fills in the templates of `lim`'s publish and subscribe lists for `user` of `account`.
///
/// nats-server's rules: a missing tag or an invalid generated subject drops the entry from an
/// allow list and fails the login in a deny list; an unknown function fails the login; an
/// allow list that was not empty and is empty afterwards adds `deny >`.
pub(crate) fn apply(
    mut lim: UserPermissionLimits,
    user: &UserClaims,
    account: &AccountClaims,
) -> Result<UserPermissionLimits, String> {
    let p = &mut lim.permissions;
    let sub_allow_was_set = !p.subscribe.allow.is_empty();
    let pub_allow_was_set = !p.publish.allow.is_empty();
    p.subscribe.allow = expand(&p.subscribe.allow, false, user, account)?;
    p.subscribe.deny = expand(&p.subscribe.deny, true, user, account)?;
    p.publish.allow = expand(&p.publish.allow, false, user, account)?;
    p.publish.deny = expand(&p.publish.deny, true, user, account)?;
    for (was_set, list) in [
        (sub_allow_was_set, &mut p.subscribe),
        (pub_allow_was_set, &mut p.publish),
    ] {
        if was_set && list.allow.is_empty() && !list.deny.iter().any(|d| d == ">") {
            list.deny.push(">".to_owned());
        }
    }
    Ok(lim)
}

/// The `{{…}}` spans of `s`, as Go's `{{2}([^}]+)}{2}` finds them: byte ranges of the whole
/// span.
fn spans(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'{' && b[i + 1] == b'{' {
            let mut j = i + 2;
            while j < b.len() && b[j] != b'}' {
                j += 1;
            }
            if j > i + 2 && j + 1 < b.len() && b[j + 1] == b'}' {
                out.push((i, j + 2));
                i = j + 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// `tag(k)` or `account-tag(k)` (either prefix in any case): which, and `k`.
fn tag_call(op: &str) -> Option<(bool, &str)> {
    let lower = op.to_ascii_lowercase();
    if !op.ends_with(')') {
        return None;
    }
    if lower.starts_with("account-tag(") {
        Some((true, &op["account-tag(".len()..op.len() - 1]))
    } else if lower.starts_with("tag(") {
        Some((false, &op["tag(".len()..op.len() - 1]))
    } else {
        None
    }
}

fn expand(
    list: &[String],
    fail_on_bad: bool,
    user: &UserClaims,
    account: &AccountClaims,
) -> Result<Vec<String>, String> {
    if !list.iter().any(|e| !spans(e).is_empty()) {
        return Ok(list.to_vec());
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for entry in list {
        let found = spans(entry);
        let mut values: Vec<Vec<String>> = Vec::with_capacity(found.len());
        for &(start, end) in &found {
            let op = entry[start + 2..end - 2].trim();
            let value = if op.eq_ignore_ascii_case("name()") {
                vec![user.name.clone().unwrap_or_default()]
            } else if op.eq_ignore_ascii_case("subject()") {
                vec![user.subject.clone()]
            } else if op.eq_ignore_ascii_case("account-name()") {
                vec![account.name.clone().unwrap_or_default()]
            } else if op.eq_ignore_ascii_case("account-subject()") {
                vec![user.issuer_account.clone().unwrap_or_default()]
            } else if let Some((of_account, key)) = tag_call(op) {
                let tags = if of_account {
                    &account.tags
                } else {
                    &user.tags
                };
                let prefix = format!("{}:", key.to_lowercase());
                let found: Vec<String> = tags
                    .iter()
                    .filter_map(|t| t.strip_prefix(&prefix).map(str::to_owned))
                    .collect();
                if found.is_empty() {
                    if fail_on_bad {
                        return Err(format!(
                            "generated invalid subject {entry:?}: {key:?} is not defined"
                        ));
                    }
                    // nats-server substitutes a space: the subject is invalid and dropped.
                    vec![" ".to_owned()]
                } else {
                    found
                }
            } else {
                return Err(format!(
                    "template operation in {entry:?}: {op:?} is not defined"
                ));
            };
            values.push(value);
        }
        let count = values
            .iter()
            .try_fold(1usize, |n, v| n.checked_mul(v.len()))
            .filter(|n| *n <= MAX_EXPANSIONS && out.len() + n <= MAX_EXPANSIONS)
            .ok_or_else(|| {
                format!("permission template expansion limit exceeded: {MAX_EXPANSIONS}")
            })?;
        let mut index = vec![0usize; values.len()];
        for _ in 0..count {
            let mut subject = String::with_capacity(entry.len());
            let mut last = 0;
            for (k, &(start, end)) in found.iter().enumerate() {
                subject.push_str(&entry[last..start]);
                subject.push_str(&values[k][index[k]]);
                last = end;
            }
            subject.push_str(&entry[last..]);
            if validate_subject(subject.as_bytes()).is_ok() {
                out.push(subject);
            } else if fail_on_bad {
                return Err("generated invalid subject".to_owned());
            }
            // The next combination, last value fastest (Go's cartesian product order).
            for k in (0..index.len()).rev() {
                index[k] += 1;
                if index[k] < values[k].len() {
                    break;
                }
                index[k] = 0;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rnats_jwt::Permission;

    use super::*;

    fn user() -> UserClaims {
        let mut u = UserClaims::new("UKEY", "ASIGNER");
        u.name = Some("alice".into());
        u.issuer_account = Some("AACC".into());
        u.tags = vec!["dept:eng".into(), "dept:ops".into(), "site:x".into()];
        u
    }

    fn account() -> AccountClaims {
        let mut a = AccountClaims::new("AACC");
        a.name = Some("orders".into());
        a.tags = vec!["region:eu".into()];
        a
    }

    fn lim(pub_allow: &[&str], pub_deny: &[&str]) -> UserPermissionLimits {
        let mut l = UserPermissionLimits::default();
        l.permissions.publish = Permission::new(
            pub_allow.iter().map(|s| (*s).to_owned()).collect(),
            pub_deny.iter().map(|s| (*s).to_owned()).collect(),
        );
        l
    }

    #[test]
    fn functions_fill_in() {
        let out = apply(
            lim(
                &[
                    "u.{{name()}}.>",
                    "k.{{ Subject() }}",
                    "a.{{account-name()}}.{{account-subject()}}",
                    "r.{{account-tag(region)}}",
                    "d.{{tag(DEPT)}}.{{tag(site)}}",
                    "plain",
                ],
                &[],
            ),
            &user(),
            &account(),
        )
        .unwrap();
        assert_eq!(
            out.permissions.publish.allow,
            [
                "u.alice.>",
                "k.UKEY",
                "a.orders.AACC",
                "r.eu",
                "d.eng.x",
                "d.ops.x",
                "plain"
            ]
        );
    }

    #[test]
    fn missing_tags_drop_allows_and_fail_denies() {
        let out = apply(lim(&["t.{{tag(team)}}"], &[]), &user(), &account()).unwrap();
        assert!(out.permissions.publish.allow.is_empty());
        assert_eq!(out.permissions.publish.deny, [">"], "allow emptied: deny >");
        let err = apply(lim(&[], &["t.{{tag(team)}}"]), &user(), &account()).unwrap_err();
        assert!(err.contains("is not defined"), "{err}");
        let err = apply(lim(&["x.{{nope()}}"], &[]), &user(), &account()).unwrap_err();
        assert!(err.starts_with("template operation"), "{err}");
    }

    #[test]
    fn expansion_is_bounded() {
        let mut u = user();
        u.tags = (0..100).map(|i| format!("t:{i}")).collect();
        let err = apply(lim(&["{{tag(t)}}.{{tag(t)}}"], &[]), &u, &account()).unwrap_err();
        assert!(err.contains("4096"), "{err}");
    }

    #[test]
    fn spans_follow_the_go_pattern() {
        assert_eq!(spans("a.{{x}}.{{y}}"), [(2, 7), (8, 13)]);
        assert!(spans("{{}}").is_empty());
        assert!(spans("{x}}").is_empty());
        assert_eq!(spans("{{{x}}"), [(0, 6)]);
    }
}
