//! The client's half of the wire: client ops written with this crate's
//! encoders parse back with `ClientParser`, and server ops written with the
//! server encoders parse back with `ServerParser`, however the bytes are cut.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rnats_protocol::{
    ClientOp, ClientParser, ConnectOptions, OK, PING, PONG, ServerInfo, ServerOp, ServerParser,
    encode_connect, encode_connect_json, encode_err, encode_hmsg, encode_hpub, encode_info,
    encode_msg, encode_pub, encode_sub, encode_unsub,
};

use crate::support::client_op;

/// Writes `op` with the crate's client-side encoders; `None` for the ops a
/// client never sends (INFO, +OK, -ERR).
fn encode_client(dst: &mut BytesMut, op: &ClientOp) -> Option<()> {
    match op {
        ClientOp::Connect(json) => encode_connect_json(dst, json),
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => encode_pub(dst, subject, reply.as_deref(), payload),
        ClientOp::HPub {
            subject,
            reply,
            header_len,
            message,
        } => encode_hpub(dst, subject, reply.as_deref(), *header_len, message),
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => encode_sub(dst, subject, queue.as_deref(), sid),
        ClientOp::Unsub { sid, max } => encode_unsub(dst, sid, *max),
        ClientOp::Ping => dst.extend_from_slice(PING),
        ClientOp::Pong => dst.extend_from_slice(PONG),
        ClientOp::Info | ClientOp::Ok | ClientOp::Err(_) => return None,
    }
    Some(())
}

fn encode_server(dst: &mut BytesMut, op: &ServerOp) {
    match op {
        ServerOp::Info(info) => encode_info(dst, info),
        ServerOp::Msg {
            subject,
            sid,
            reply,
            payload,
        } => encode_msg(dst, subject, sid, reply.as_deref(), payload),
        ServerOp::HMsg {
            subject,
            sid,
            reply,
            header_len,
            message,
        } => encode_hmsg(dst, subject, sid, reply.as_deref(), *header_len, message),
        ServerOp::Ping => dst.extend_from_slice(PING),
        ServerOp::Pong => dst.extend_from_slice(PONG),
        ServerOp::Ok => dst.extend_from_slice(OK),
        ServerOp::Err(text) => {
            // `ServerOp::Err` keeps the quotes; `encode_err` adds them.
            let inner = &text[1..text.len() - 1];
            encode_err(dst, std::str::from_utf8(inner).unwrap());
        }
    }
}

fn token() -> impl Strategy<Value = Bytes> {
    "[!-~]{1,16}".prop_map(Bytes::from)
}

fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => proptest::collection::vec(any::<u8>(), 0..5000),
    ]
    .prop_map(Bytes::from)
}

fn server_info() -> impl Strategy<Value = ServerInfo> {
    (
        "[ -~]{0,20}",
        any::<u16>(),
        any::<bool>(),
        any::<u32>(),
        any::<u64>(),
        proptest::option::of("[a-zA-Z0-9_-]{0,22}"),
        proptest::collection::vec("[a-z0-9.:]{1,20}", 0..3),
    )
        .prop_map(
            |(name, port, flag, max_payload, client_id, nonce, urls)| ServerInfo {
                server_id: "NSERVER".into(),
                server_name: name,
                version: "2.15.1".into(),
                proto: 1,
                port,
                headers: flag,
                auth_required: !flag,
                tls_available: flag,
                max_payload,
                client_id,
                nonce,
                connect_urls: urls,
                ldm: !flag,
                api_lvl: 5,
                ..ServerInfo::default()
            },
        )
}

/// Any operation a server sends.
fn server_op() -> impl Strategy<Value = ServerOp> {
    prop_oneof![
        server_info().prop_map(|info| ServerOp::Info(Box::new(info))),
        (token(), token(), proptest::option::of(token()), payload()).prop_map(
            |(subject, sid, reply, payload)| ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
            }
        ),
        (
            token(),
            token(),
            proptest::option::of(token()),
            payload(),
            any::<prop::sample::Index>()
        )
            .prop_map(|(subject, sid, reply, message, split)| ServerOp::HMsg {
                subject,
                sid,
                reply,
                header_len: split.index(message.len() + 1),
                message,
            }),
        Just(ServerOp::Ping),
        Just(ServerOp::Pong),
        Just(ServerOp::Ok),
        "'[ -~]{0,30}'".prop_map(|text| ServerOp::Err(Bytes::from(text))),
    ]
}

/// Parses `wire` cut into pieces of the given sizes (the rest in one).
fn parse_server_ops(wire: &[u8], chunks: &[usize]) -> Vec<ServerOp> {
    let mut parser = ServerParser::default();
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut rest = wire;
    let mut sizes = chunks.iter().copied();
    while !rest.is_empty() {
        let take = sizes.next().unwrap_or(rest.len()).min(rest.len());
        buf.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        while let Some(op) = parser.parse(&mut buf).unwrap() {
            ops.push(op);
        }
    }
    assert!(buf.is_empty());
    ops
}

/// The same stream through `parse_slice`, growing the window a piece at a time.
fn parse_server_slices(wire: &[u8], chunks: &[usize]) -> Vec<ServerOp> {
    let mut parser = ServerParser::default();
    let (mut start, mut end) = (0, 0);
    let mut ops = Vec::new();
    let mut sizes = chunks.iter().copied();
    while end < wire.len() {
        end = (end + sizes.next().unwrap_or(wire.len())).min(wire.len());
        while let Some((op, used)) = parser.parse_slice(&wire[start..end]).unwrap() {
            ops.push(owned(op));
            start += used;
        }
    }
    assert_eq!(start, wire.len());
    ops
}

fn owned(op: ServerOp<&[u8]>) -> ServerOp {
    let b = Bytes::copy_from_slice;
    match op {
        ServerOp::Info(info) => ServerOp::Info(info),
        ServerOp::Msg {
            subject,
            sid,
            reply,
            payload,
        } => ServerOp::Msg {
            subject: b(subject),
            sid: b(sid),
            reply: reply.map(b),
            payload: b(payload),
        },
        ServerOp::HMsg {
            subject,
            sid,
            reply,
            header_len,
            message,
        } => ServerOp::HMsg {
            subject: b(subject),
            sid: b(sid),
            reply: reply.map(b),
            header_len,
            message: b(message),
        },
        ServerOp::Ping => ServerOp::Ping,
        ServerOp::Pong => ServerOp::Pong,
        ServerOp::Ok => ServerOp::Ok,
        ServerOp::Err(text) => ServerOp::Err(b(text)),
    }
}

fn connect_options() -> impl Strategy<Value = ConnectOptions> {
    let text = || proptest::option::of("[ -~]{0,12}");
    (
        any::<[bool; 7]>(),
        (text(), text(), text(), text(), text(), text()),
        (text(), text(), text(), text()),
        any::<i32>(),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(flags, a, b, protocol, new_account)| ConnectOptions {
            verbose: flags[0],
            pedantic: flags[1],
            tls_required: flags[2],
            echo: flags[3],
            headers: flags[4],
            no_responders: flags[5] && flags[6],
            auth_token: a.0,
            user: a.1,
            pass: a.2,
            nkey: a.3,
            sig: a.4,
            jwt: a.5,
            name: b.0,
            lang: b.1,
            version: b.2,
            account: b.3,
            protocol,
            new_account,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn client_encoders_parse_back(ops in proptest::collection::vec(client_op(), 0..24)) {
        let mut wire = BytesMut::new();
        let mut sent = Vec::new();
        for op in ops {
            if encode_client(&mut wire, &op).is_some() {
                sent.push(op);
            }
        }
        let mut parser = ClientParser::default();
        let mut parsed = Vec::new();
        while let Some(op) = parser.parse(&mut wire).unwrap() {
            parsed.push(op);
        }
        prop_assert!(wire.is_empty());
        prop_assert_eq!(parsed, sent);
    }

    #[test]
    fn server_ops_survive_any_chunking(
        ops in proptest::collection::vec(server_op(), 0..16),
        chunks in proptest::collection::vec(1usize..64, 0..200),
    ) {
        let mut wire = BytesMut::new();
        for op in &ops {
            encode_server(&mut wire, op);
        }
        prop_assert_eq!(&parse_server_ops(&wire, &chunks), &ops);
        prop_assert_eq!(&parse_server_slices(&wire, &chunks), &ops);
    }

    #[test]
    fn connect_options_round_trip(options in connect_options()) {
        let mut wire = BytesMut::new();
        encode_connect(&mut wire, &options).unwrap();
        let Some(ClientOp::Connect(json)) = ClientParser::default().parse(&mut wire).unwrap() else {
            panic!("expected CONNECT");
        };
        prop_assert_eq!(ConnectOptions::from_json(&json).unwrap(), options);
    }
}

#[test]
fn connect_leaves_out_absent_fields() {
    let options = ConnectOptions {
        verbose: false,
        name: Some("loadgen".into()),
        ..ConnectOptions::default()
    };
    let mut wire = BytesMut::new();
    encode_connect(&mut wire, &options).unwrap();
    assert_eq!(
        &wire[..],
        &b"CONNECT {\"verbose\":false,\"pedantic\":true,\"tls_required\":false,\
           \"name\":\"loadgen\",\"protocol\":0,\"echo\":true,\"headers\":false,\
           \"no_responders\":false}\r\n"[..]
    );
}
