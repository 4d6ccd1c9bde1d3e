//! INFO: the exact bytes nats-server 2.15.1 writes (as the broker sent them
//! before INFO moved here), and parsing them back.

use bytes::BytesMut;
use rnats_protocol::{ServerInfo, ServerOp, ServerParser, encode_info};

fn base() -> ServerInfo {
    ServerInfo {
        server_id: "NCXKZ".into(),
        server_name: "hub".into(),
        version: "2.15.1".into(),
        proto: 1,
        host: "0.0.0.0".into(),
        port: 4222,
        headers: true,
        max_payload: 1_048_576,
        api_lvl: 5,
        ..ServerInfo::default()
    }
}

fn line(info: &ServerInfo) -> String {
    let mut dst = BytesMut::new();
    encode_info(&mut dst, info);
    String::from_utf8(dst.to_vec()).unwrap()
}

#[test]
fn empty_and_false_fields_are_left_out() {
    assert_eq!(
        line(&base()),
        "INFO {\"server_id\":\"NCXKZ\",\"server_name\":\"hub\",\"version\":\"2.15.1\",\
         \"proto\":1,\"host\":\"0.0.0.0\",\"port\":4222,\"headers\":true,\
         \"max_payload\":1048576,\"api_lvl\":5} \r\n"
    );
}

#[test]
fn a_client_info_in_nats_server_field_order() {
    let info = ServerInfo {
        git_commit: "0a1b2c3".into(),
        client_id: 7,
        client_ip: "127.0.0.1".into(),
        ..base()
    };
    assert_eq!(
        line(&info),
        "INFO {\"server_id\":\"NCXKZ\",\"server_name\":\"hub\",\"version\":\"2.15.1\",\
         \"proto\":1,\"git_commit\":\"0a1b2c3\",\"host\":\"0.0.0.0\",\"port\":4222,\
         \"headers\":true,\"max_payload\":1048576,\"client_id\":7,\
         \"client_ip\":\"127.0.0.1\",\"api_lvl\":5} \r\n"
    );
}

#[test]
fn every_optional_field() {
    let info = ServerInfo {
        headers: false,
        auth_required: true,
        tls_required: true,
        tls_verify: true,
        tls_available: true,
        client_id: 12,
        client_ip: "::1".into(),
        nonce: Some("n0nce".into()),
        connect_urls: vec!["10.0.0.1:4222".into()],
        ws_connect_urls: vec!["10.0.0.1:8080".into()],
        ldm: true,
        connect_info: true,
        remote_account: Some("ACME".into()),
        ..base()
    };
    assert_eq!(
        line(&info),
        "INFO {\"server_id\":\"NCXKZ\",\"server_name\":\"hub\",\"version\":\"2.15.1\",\
         \"proto\":1,\"host\":\"0.0.0.0\",\"port\":4222,\"headers\":false,\
         \"auth_required\":true,\"tls_required\":true,\"tls_verify\":true,\
         \"tls_available\":true,\"max_payload\":1048576,\"client_id\":12,\
         \"client_ip\":\"::1\",\"nonce\":\"n0nce\",\"connect_urls\":[\"10.0.0.1:4222\"],\
         \"ws_connect_urls\":[\"10.0.0.1:8080\"],\"ldm\":true,\"connect_info\":true,\
         \"remote_account\":\"ACME\",\"api_lvl\":5} \r\n"
    );
}

#[test]
fn strings_are_json_escaped() {
    let info = ServerInfo {
        server_name: "a \"quoted\" \\ name\n".into(),
        ..base()
    };
    assert!(line(&info).contains(r#""server_name":"a \"quoted\" \\ name\n","#));
}

#[test]
fn encoded_info_parses_back() {
    let info = ServerInfo {
        nonce: Some("abc".into()),
        connect_urls: vec!["x:1".into(), "y:2".into()],
        remote_account: Some("A".into()),
        ..base()
    };
    let mut buf = BytesMut::from(line(&info).as_bytes());
    let op = ServerParser::default().parse(&mut buf).unwrap();
    assert_eq!(op, Some(ServerOp::Info(Box::new(info))));
    assert!(buf.is_empty());
}

#[test]
fn nats_server_info_with_fields_rnats_does_not_send() {
    let wire = b"INFO {\"server_id\":\"NB\",\"server_name\":\"NB\",\"version\":\"2.15.1\",\
        \"proto\":1,\"go\":\"go1.24.4\",\"host\":\"0.0.0.0\",\"port\":4222,\"headers\":true,\
        \"max_payload\":1048576,\"jetstream\":true,\"client_id\":5,\"client_ip\":\"127.0.0.1\",\
        \"xkey\":\"XAB\",\"api_lvl\":1} \r\n";
    let mut buf = BytesMut::from(&wire[..]);
    let Some(ServerOp::Info(info)) = ServerParser::default().parse(&mut buf).unwrap() else {
        panic!("expected INFO");
    };
    assert_eq!(
        (
            info.server_id.as_str(),
            info.client_id,
            info.api_lvl,
            info.headers
        ),
        ("NB", 5, 1, true)
    );
}
