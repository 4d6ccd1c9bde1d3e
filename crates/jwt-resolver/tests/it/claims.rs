//! Every claim type, every field: what is encoded decodes to the same value.

use std::collections::BTreeMap;

use nkeys::KeyPair;
use rnats_jwt::{
    AccountClaims, AccountLimits, ActivationClaims, Claims, Export, ExportType,
    ExternalAuthorization, GenericClaims, Import, JetStreamLimits, LatencySampling, MsgTrace,
    OperatorClaims, Permission, Permissions, ResponsePermission, ResponseType, Revocations,
    ServiceLatency, TimeRange, UserClaims, UserLimits, UserPermissionLimits, UserScope,
    WeightedMapping, decode_account_at, decode_activation_at, decode_at, decode_generic_at,
    decode_operator_at, decode_user_at, encode, encode_account, encode_activation, encode_generic,
    encode_operator, try_encode_user,
};
use serde_json::json;

use super::at;

const IAT: u64 = 1_700_000_000;

fn payload(jwt: &str) -> serde_json::Value {
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&data_encoding::BASE64URL_NOPAD.decode(p.as_bytes()).unwrap()).unwrap()
}

#[test]
fn operator_roundtrip() {
    let op = KeyPair::new_operator();
    let mut c = OperatorClaims::new(op.public_key());
    c.issued_at = Some(at(IAT));
    c.name = Some("op".into());
    c.audience = Some("aud".into());
    c.expires = Some(at(IAT + 100));
    c.not_before = Some(at(IAT - 100));
    c.signing_keys = vec![KeyPair::new_operator().public_key()];
    c.account_server_url = Some("http://localhost:9090/jwt/v1".into());
    c.operator_service_urls = vec!["nats://localhost:4222".into()];
    c.system_account = Some(KeyPair::new_account().public_key());
    c.assert_server_version = Some("2.10.0".into());
    c.strict_signing_key_usage = true;
    c.tags = vec!["a:b".into(), "c".into()];
    let jwt = encode_operator(&c, &op).unwrap();
    let d = decode_operator_at(&jwt, at(IAT)).unwrap();
    assert!(!d.id.is_empty());
    c.id = d.id.clone();
    assert_eq!(d, c);
    let json = payload(&jwt);
    assert_eq!(json["nats"]["type"], "operator");
    assert_eq!(json["nats"]["version"], 2);
    assert_eq!(json["nats"]["strict_signing_key_usage"], true);
    assert_eq!(json["nats"]["assert_server_version"], "2.10.0");
}

fn full_account(subject: String) -> AccountClaims {
    let mut c = AccountClaims::new(subject);
    c.issued_at = Some(at(IAT));
    c.name = Some("orders".into());
    c.expires = Some(at(IAT + 3600));
    let mut revoked = Revocations::default();
    revoked.revoke(KeyPair::new_account().public_key(), at(IAT - 1));
    c.imports = vec![
        Import {
            name: "prices".into(),
            subject: "prices.>".into(),
            account: KeyPair::new_account().public_key(),
            local_subject: "ext.prices.>".into(),
            kind: ExportType::Stream,
            allow_trace: true,
            ..Import::default()
        },
        Import {
            subject: "quote".into(),
            account: KeyPair::new_account().public_key(),
            token: "eyJ.activation.token".into(),
            to: "old".into(),
            kind: ExportType::Service,
            share: true,
            ..Import::default()
        },
    ];
    c.exports = vec![
        Export {
            name: "orders".into(),
            subject: "orders.*".into(),
            kind: ExportType::Service,
            token_req: true,
            revocations: revoked,
            response_type: Some(ResponseType::Chunked),
            response_threshold: 2_000_000_000,
            latency: Some(ServiceLatency {
                sampling: LatencySampling::Percent(50),
                results: "latency.orders".into(),
            }),
            account_token_position: 2,
            advertise: true,
            allow_trace: true,
            description: "order service".into(),
            info_url: "https://example.com/orders".into(),
        },
        Export {
            subject: "ticks.>".into(),
            kind: ExportType::Stream,
            latency: None,
            ..Export::default()
        },
    ];
    c.limits = AccountLimits {
        subs: 1000,
        data: -1,
        payload: 1 << 20,
        imports: 10,
        exports: 10,
        wildcard_exports: false,
        disallow_bearer: true,
        conn: 50,
        leaf_node_conn: 2,
        jetstream: JetStreamLimits::DISABLED,
        jetstream_tiers: BTreeMap::from([(
            "R3".to_owned(),
            JetStreamLimits {
                mem_storage: -1,
                disk_storage: 1 << 30,
                streams: 10,
                consumer: 100,
                max_ack_pending: 1000,
                mem_max_stream_bytes: 1 << 20,
                disk_max_stream_bytes: 1 << 25,
                max_bytes_required: true,
            },
        )]),
    };
    c.signing_keys.add(KeyPair::new_account().public_key());
    c.signing_keys.add_scoped(UserScope {
        key: KeyPair::new_account().public_key(),
        role: "support".into(),
        template: UserPermissionLimits {
            permissions: Permissions {
                publish: Permission::allow(["support.{{name()}}.>"]),
                subscribe: Permission::new(vec!["_INBOX.>".into()], vec!["secret".into()]),
                resp: Some(ResponsePermission { max: 1, ttl: 0 }),
            },
            source_networks: vec!["10.0.0.0/8".into()],
            times: vec![TimeRange {
                start: "08:00:00".into(),
                end: "17:00:00".into(),
            }],
            times_location: Some("Europe/Berlin".into()),
            limits: UserLimits {
                subscriptions: 10,
                data: -1,
                payload: 4096,
            },
            bearer_token: true,
            proxy_required: false,
            allowed_connection_types: vec!["STANDARD".into()],
        },
        description: "support staff".into(),
    });
    c.revocations
        .revoke(KeyPair::new_user().public_key(), at(IAT));
    c.revocations.revoke(Revocations::ALL, at(IAT - 10));
    c.default_permissions.publish = Permission::allow(["public.>"]);
    c.mappings.insert(
        "orders.new".into(),
        vec![
            WeightedMapping {
                subject: "orders.new.v1".into(),
                weight: 80,
                cluster: String::new(),
            },
            WeightedMapping {
                subject: "orders.new.v2".into(),
                weight: 20,
                cluster: "east".into(),
            },
        ],
    );
    c.authorization = ExternalAuthorization {
        auth_users: vec![KeyPair::new_user().public_key()],
        allowed_accounts: vec!["*".into()],
        xkey: "XAB3NANV3M6N7AHSQP2U5FRWKKUT7EG2ZXXABV4XVXYQRJGM4S2CZGHT".into(),
    };
    c.trace = Some(MsgTrace {
        dest: "trace.orders".into(),
        sampling: 50,
    });
    c.cluster_traffic = Some("owner".into());
    c.description = Some("the orders team".into());
    c.info_url = Some("https://example.com".into());
    c.tags = vec!["team:orders".into()];
    c
}

#[test]
fn account_roundtrip() {
    let op = KeyPair::new_operator();
    let acc = KeyPair::new_account();
    let mut c = full_account(acc.public_key());
    let jwt = encode_account(&c, &op).unwrap();
    let d = decode_account_at(&jwt, at(IAT)).unwrap();
    c.id = d.id.clone();
    c.issuer = op.public_key();
    // The encoder sorts imports and exports by subject.
    c.imports.sort_by(|a, b| a.subject.cmp(&b.subject));
    c.exports.sort_by(|a, b| a.subject.cmp(&b.subject));
    assert_eq!(d, c);

    let json = payload(&jwt);
    let nats = &json["nats"];
    assert_eq!(nats["type"], "account");
    assert_eq!(nats["limits"]["leaf"], 2);
    assert_eq!(nats["limits"]["disallow_bearer"], true);
    assert_eq!(
        nats["limits"]["tiered_limits"]["R3"]["max_bytes_required"],
        true
    );
    assert_eq!(nats["exports"][0]["response_type"], "Chunked");
    assert_eq!(nats["exports"][0]["service_latency"]["sampling"], 50);
    assert_eq!(nats["exports"][0]["account_token_position"], 2);
    assert_eq!(nats["imports"][0]["local_subject"], "ext.prices.>");
    assert_eq!(nats["mappings"]["orders.new"][0]["weight"], 80);
    assert_eq!(nats["authorization"]["allowed_accounts"][0], "*");
    assert_eq!(nats["trace"]["dest"], "trace.orders");
    assert_eq!(nats["cluster_traffic"], "owner");
    let scoped = nats["signing_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k.is_object())
        .unwrap();
    assert_eq!(scoped["kind"], "user_scope");
    assert_eq!(scoped["template"]["times_location"], "Europe/Berlin");
    assert_eq!(
        scoped["template"]["pub"]["allow"][0],
        "support.{{name()}}.>"
    );
}

#[test]
fn self_signed_accounts_decode_like_nats_io_jwt() {
    let acc = KeyPair::new_account();
    let jwt = encode_account(&AccountClaims::new(acc.public_key()), &acc).unwrap();
    let d = decode_account_at(&jwt, at(IAT)).unwrap();
    assert_eq!(d.issuer, d.subject);
}

#[test]
fn user_roundtrip_with_issuer_account() {
    let account = KeyPair::new_account();
    let signer = KeyPair::new_account();
    let user = KeyPair::new_user();
    let mut c = UserClaims::new(user.public_key(), signer.public_key());
    c.issued_at = Some(at(IAT));
    c.issuer_account = Some(account.public_key());
    c.proxy_required = true;
    c.times = vec![TimeRange {
        start: "22:00:00".into(),
        end: "02:00:00".into(),
    }];
    c.times_location = Some("UTC".into());
    c.source_networks = vec!["192.168.0.0/16".into()];
    c.tags = vec!["Dept:Sales ".into(), "dept:sales".into()];
    let d = decode_user_at(&try_encode_user(&c, &signer).unwrap(), at(IAT)).unwrap();
    c.id = d.id.clone();
    // Tags are written as nsc writes them: trimmed, lower-cased, once.
    c.tags = vec!["dept:sales".into()];
    assert_eq!(d, c);
}

#[test]
fn activation_roundtrip() {
    let exporter = KeyPair::new_account();
    let signing_key = KeyPair::new_account();
    let importer = KeyPair::new_account();
    let mut c = ActivationClaims::new(importer.public_key(), "orders.*", ExportType::Service);
    c.issued_at = Some(at(IAT));
    c.expires = Some(at(IAT + 60));
    c.issuer_account = Some(exporter.public_key());
    let jwt = encode_activation(&c, &signing_key).unwrap();
    let d = decode_activation_at(&jwt, at(IAT)).unwrap();
    c.id = d.id.clone();
    c.issuer = signing_key.public_key();
    assert_eq!(d, c);
    let json = payload(&jwt);
    assert_eq!(json["nats"]["kind"], "service");
    assert_eq!(json["nats"]["subject"], "orders.*");
}

#[test]
fn generic_roundtrip_like_a_resolver_delete_request() {
    let op = KeyPair::new_operator();
    let mut c = GenericClaims::new(op.public_key());
    c.issued_at = Some(at(IAT));
    c.data.insert("accounts".into(), json!(["AAA", "BBB"]));
    let jwt = encode_generic(&c, &op).unwrap();
    let d = decode_generic_at(&jwt, at(IAT)).unwrap();
    c.id = d.id.clone();
    c.issuer = op.public_key();
    c.data.insert("version".into(), json!(2));
    assert_eq!(d, c);
    // `decode` reads a token without a known type as generic.
    assert!(matches!(decode_at(&jwt, at(IAT)).unwrap(), Claims::Generic(g) if g == c));
}

#[test]
fn encode_any_matches_the_typed_encoders() {
    let op = KeyPair::new_operator();
    let claims = Claims::Operator(OperatorClaims::new(op.public_key()));
    let jwt = encode(&claims, &op).unwrap();
    assert_eq!(decode_at(&jwt, at(IAT)).unwrap().subject(), op.public_key());
}

#[test]
fn encoded_tokens_carry_nats_ids() {
    // The jti is a hash of the standard claims only: the same standard claims give the same
    // id whatever the nats section says.
    let op = KeyPair::new_operator();
    let mut a = AccountClaims::new(KeyPair::new_account().public_key());
    a.issued_at = Some(at(IAT));
    let first = decode_account_at(&encode_account(&a, &op).unwrap(), at(IAT)).unwrap();
    a.limits.conn = 7;
    let second = decode_account_at(&encode_account(&a, &op).unwrap(), at(IAT)).unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(first.id.len(), 52);
}
