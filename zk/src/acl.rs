//! ACLs: the permission check, ACL fix-up on create/setACL, and the auth providers
//! (world, digest, ip, super) of a standard ZooKeeper 3.8 server.

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::jute::{Acl, ClientInfo, Id};
use crate::proto::err;

/// `DigestAuthenticationProvider.generateDigest`: "user:BASE64(SHA1(user:password))".
pub fn generate_digest(id_password: &str) -> String {
    let user = id_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(id_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Java's `String.split(":")` drops trailing empty strings; digest ids need exactly two parts.
fn java_split_count(s: &str, sep: char) -> usize {
    let parts: Vec<&str> = s.split(sep).collect();
    let mut n = parts.len();
    while n > 0 && parts[n - 1].is_empty() {
        n -= 1;
    }
    n.max(if s.is_empty() { 1 } else { 0 })
}

fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        // Integer.parseInt accepts a leading '+' or '-'; a negative never fits 0..=255.
        let v: i64 = p.parse().ok()?;
        if !(0..=255).contains(&v) {
            return None;
        }
        out[i] = v as u8;
    }
    Some(out)
}

fn ip_is_valid(id: &str) -> bool {
    let mut it = id.splitn(2, '/');
    let addr = it.next().unwrap_or("");
    if parse_ipv4(addr).is_none() {
        return false;
    }
    match it.next() {
        None => true,
        Some(bits) => matches!(bits.parse::<i32>(), Ok(b) if (0..=32).contains(&b)),
    }
}

fn ip_matches(client: &str, acl_expr: &str) -> bool {
    let mut it = acl_expr.splitn(2, '/');
    let Some(acl_addr) = parse_ipv4(it.next().unwrap_or("")) else {
        return false;
    };
    let bits = match it.next() {
        None => 32,
        Some(b) => match b.parse::<i32>() {
            Ok(b) if (0..=32).contains(&b) => b as u32,
            _ => return false,
        },
    };
    let Some(c) = parse_ipv4(client) else {
        return false;
    };
    let mask: u32 = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from_be_bytes(c) & mask) == (u32::from_be_bytes(acl_addr) & mask)
}

/// Whether a scheme has a provider (auth ids of other schemes never match).
fn has_provider(scheme: &str) -> bool {
    matches!(scheme, "digest" | "ip")
}

/// `ZooKeeperServer.checkACL`: Ok if any entry grants `perm` to one of `ids`.
/// `acl == None` means OPEN_ACL_UNSAFE.
pub fn check(acl: Option<&[Acl]>, perm: i32, ids: &[Id], skip_acl: bool) -> Result<(), i32> {
    let Some(acl) = acl else { return Ok(()) };
    if skip_acl || acl.is_empty() || ids.iter().any(|i| i.scheme == "super") {
        return Ok(());
    }
    for a in acl {
        if a.perms & perm == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        if !has_provider(&a.id.scheme) {
            continue;
        }
        for id in ids.iter().filter(|i| i.scheme == a.id.scheme) {
            let ok = match a.id.scheme.as_str() {
                "digest" => id.id == a.id.id,
                "ip" => ip_matches(&id.id, &a.id.id),
                _ => false,
            };
            if ok {
                return Ok(());
            }
        }
    }
    Err(err::NO_AUTH)
}

/// `PrepRequestProcessor.fixupACL`: dedupe, expand `auth`, validate ids.
pub fn fixup(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, i32> {
    let mut uniq: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    if uniq.is_empty() {
        return Err(err::INVALID_ACL);
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        let id = &a.id;
        if id.scheme == "world" && id.id == "anyone" {
            out.push(a.clone());
        } else if id.scheme == "auth" {
            let mut any = false;
            for cid in ids {
                // Only providers that authenticate (digest) count; ip does not.
                if cid.scheme == "digest" {
                    any = true;
                    out.push(Acl {
                        perms: a.perms,
                        id: cid.clone(),
                    });
                }
            }
            if !any {
                return Err(err::INVALID_ACL);
            }
        } else {
            let valid = match id.scheme.as_str() {
                "digest" => java_split_count(&id.id, ':') == 2,
                "ip" => ip_is_valid(&id.id),
                _ => false,
            };
            if !valid {
                return Err(err::INVALID_ACL);
            }
            out.push(a.clone());
        }
    }
    Ok(out)
}

/// Handles an auth packet: the ids to add to the connection, or AuthFailed.
pub fn authenticate(
    scheme: &str,
    auth: &[u8],
    client_ip: &str,
    super_digest: Option<&str>,
) -> Result<Vec<Id>, i32> {
    match scheme {
        "digest" => {
            let s = String::from_utf8_lossy(auth);
            let digest = generate_digest(&s);
            let mut ids = Vec::new();
            if super_digest == Some(digest.as_str()) {
                ids.push(Id {
                    scheme: "super".into(),
                    id: String::new(),
                });
            }
            ids.push(Id {
                scheme: "digest".into(),
                id: digest,
            });
            Ok(ids)
        }
        "ip" => Ok(vec![Id {
            scheme: "ip".into(),
            id: client_ip.to_owned(),
        }]),
        _ => Err(err::AUTH_FAILED),
    }
}

/// `AuthUtil.getClientInfos`, for whoAmI.
pub fn client_infos(ids: &[Id]) -> Vec<ClientInfo> {
    ids.iter()
        .map(|id| {
            let user = match id.scheme.as_str() {
                "digest" => id.id.split(':').next().unwrap_or("").to_owned(),
                "ip" => id.id.clone(),
                _ => String::new(),
            };
            ClientInfo {
                auth_scheme: id.scheme.clone(),
                user,
            }
        })
        .collect()
}

/// getACL without ADMIN masks digest hashes as "user:x".
pub fn mask_digests(acl: Vec<Acl>) -> Vec<Acl> {
    acl.into_iter()
        .map(|mut a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("").to_owned();
                a.id.id = if a.id.id.contains(':') {
                    format!("{user}:x")
                } else {
                    a.id.id
                };
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id {
                scheme: scheme.into(),
                id: id.into(),
            },
        }
    }

    #[test]
    fn digest_matches_zookeeper() {
        // Known value from ZooKeeper's documentation examples.
        assert_eq!(
            generate_digest("super:admin"),
            "super:xQJmxLMiHGwaqBvst5y6rkB6HQs="
        );
    }

    #[test]
    fn fixup_rules() {
        let ip = vec![Id {
            scheme: "ip".into(),
            id: "127.0.0.1".into(),
        }];
        assert_eq!(fixup(&[], &ip), Err(err::INVALID_ACL));
        assert_eq!(fixup(&[acl(31, "auth", "")], &ip), Err(err::INVALID_ACL));
        assert_eq!(
            fixup(&[acl(31, "world", "someone")], &ip),
            Err(err::INVALID_ACL)
        );
        assert_eq!(
            fixup(&[acl(31, "digest", "user:")], &ip),
            Err(err::INVALID_ACL)
        );
        assert!(fixup(&[acl(31, "digest", "u:h")], &ip).is_ok());
        assert!(fixup(&[acl(31, "ip", "10.0.0.0/8")], &ip).is_ok());
        assert_eq!(
            fixup(&[acl(31, "ip", "10.0.0.0/33")], &ip),
            Err(err::INVALID_ACL)
        );
        let mut ids = ip.clone();
        ids.push(Id {
            scheme: "digest".into(),
            id: "u:h".into(),
        });
        assert_eq!(
            fixup(&[acl(31, "auth", ""), acl(31, "auth", "")], &ids).unwrap(),
            vec![acl(31, "digest", "u:h")]
        );
    }

    #[test]
    fn check_rules() {
        let ids = vec![Id {
            scheme: "ip".into(),
            id: "127.0.0.1".into(),
        }];
        assert!(check(None, 1, &ids, false).is_ok());
        assert!(check(Some(&[acl(1, "ip", "127.0.0.0/8")]), 1, &ids, false).is_ok());
        assert_eq!(
            check(Some(&[acl(2, "ip", "127.0.0.0/8")]), 1, &ids, false),
            Err(err::NO_AUTH)
        );
        assert_eq!(
            check(Some(&[acl(31, "digest", "u:h")]), 1, &ids, false),
            Err(err::NO_AUTH)
        );
    }
}
