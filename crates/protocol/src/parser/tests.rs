use super::*;

fn parse_all(input: &[u8]) -> (Vec<ClientOp>, Option<ProtocolError>) {
    parse_all_with(Limits::default(), input)
}

fn parse_all_with(limits: Limits, input: &[u8]) -> (Vec<ClientOp>, Option<ProtocolError>) {
    let mut parser = ClientParser::new(limits);
    let mut buf = BytesMut::from(input);
    let mut ops = Vec::new();
    loop {
        match parser.parse(&mut buf) {
            Ok(Some(op)) => ops.push(op),
            Ok(None) => return (ops, None),
            Err(err) => return (ops, Some(err)),
        }
    }
}

/// Parses `input` whole, then byte by byte, and checks both agree.
fn one(input: &[u8]) -> Result<Option<ClientOp>, ProtocolError> {
    let mut parser = ClientParser::default();
    let mut buf = BytesMut::from(input);
    let whole = parser.parse(&mut buf);

    let mut parser = ClientParser::default();
    let mut buf = BytesMut::new();
    let mut trickled = Ok(None);
    for &b in input {
        buf.extend_from_slice(&[b]);
        trickled = parser.parse(&mut buf);
        if !matches!(trickled, Ok(None)) {
            break;
        }
    }
    assert_eq!(whole, trickled, "whole vs byte-by-byte for {input:?}");
    whole
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn pub_op(subject: &str, reply: Option<&str>, payload: &str) -> ClientOp {
    ClientOp::Pub {
        subject: b(subject),
        reply: reply.map(b),
        payload: b(payload),
    }
}

#[test]
fn connect() {
    assert_eq!(
        one(b"CONNECT {\"verbose\":false}\r\n"),
        Ok(Some(ClientOp::Connect(b("{\"verbose\":false}"))))
    );
    assert_eq!(
        one(b"connect \t {\"a\": 1} \t\r\n"),
        Ok(Some(ClientOp::Connect(b("{\"a\": 1}"))))
    );
    assert_eq!(one(b"CONNECT \r\n"), Ok(Some(ClientOp::Connect(b("")))));
}

#[test]
fn pub_with_and_without_reply() {
    assert_eq!(
        one(b"PUB foo 5\r\nhello\r\n"),
        Ok(Some(pub_op("foo", None, "hello")))
    );
    assert_eq!(
        one(b"PUB foo.bar _INBOX.1 2\r\nhi\r\n"),
        Ok(Some(pub_op("foo.bar", Some("_INBOX.1"), "hi")))
    );
    assert_eq!(one(b"PUB foo 0\r\n\r\n"), Ok(Some(pub_op("foo", None, ""))));
}

#[test]
fn payload_may_contain_crlf_and_binary() {
    assert_eq!(
        one(b"PUB a 6\r\n\r\n\0\xff\r\n\r\n"),
        Ok(Some(ClientOp::Pub {
            subject: b("a"),
            reply: None,
            payload: Bytes::from_static(b"\r\n\0\xff\r\n"),
        }))
    );
}

#[test]
fn hpub() {
    let expected = ClientOp::HPub {
        subject: b("foo"),
        reply: Some(b("bar")),
        header_len: 12,
        message: b("NATS/1.0\r\n\r\nhi"),
    };
    assert_eq!(
        one(b"HPUB foo bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
        Ok(Some(expected))
    );
    assert_eq!(
        one(b"hpub foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        Ok(Some(ClientOp::HPub {
            subject: b("foo"),
            reply: None,
            header_len: 12,
            message: b("NATS/1.0\r\n\r\n"),
        }))
    );
}

#[test]
fn sub() {
    assert_eq!(
        one(b"SUB foo 1\r\n"),
        Ok(Some(ClientOp::Sub {
            subject: b("foo"),
            queue: None,
            sid: b("1"),
        }))
    );
    assert_eq!(
        one(b"SUB foo.* workers 22\r\n"),
        Ok(Some(ClientOp::Sub {
            subject: b("foo.*"),
            queue: Some(b("workers")),
            sid: b("22"),
        }))
    );
}

#[test]
fn unsub() {
    let unsub = |sid: &str, max| Ok(Some(ClientOp::Unsub { sid: b(sid), max }));
    assert_eq!(one(b"UNSUB 1\r\n"), unsub("1", None));
    assert_eq!(one(b"UNSUB 1 10\r\n"), unsub("1", Some(10)));
    // nats-server: zero or an unparsable count means "now".
    assert_eq!(one(b"UNSUB 1 0\r\n"), unsub("1", None));
    assert_eq!(one(b"UNSUB 1 x\r\n"), unsub("1", None));
    assert_eq!(one(b"UNSUB 1 1234567890\r\n"), unsub("1", None));
}

#[test]
fn ping_pong_ok_info_err() {
    assert_eq!(one(b"PING\r\n"), Ok(Some(ClientOp::Ping)));
    assert_eq!(one(b"PONG\r\n"), Ok(Some(ClientOp::Pong)));
    assert_eq!(one(b"+OK\r\n"), Ok(Some(ClientOp::Ok)));
    assert_eq!(
        one(b"INFO {\"server_id\":\"x\"}\r\n"),
        Ok(Some(ClientOp::Info))
    );
    assert_eq!(
        one(b"-ERR 'Stale Connection'\r\n"),
        Ok(Some(ClientOp::Err(b("'Stale Connection'"))))
    );
}

#[test]
fn ping_ignores_the_rest_of_its_line() {
    assert_eq!(one(b"PING anything at all\r\n"), Ok(Some(ClientOp::Ping)));
    assert_eq!(one(b"PINGPONG\n"), Ok(Some(ClientOp::Ping)));
    let long = [&b"PING "[..], &[b'x'; 10_000], b"\r\n"].concat();
    assert_eq!(one(&long), Ok(Some(ClientOp::Ping)));
}

#[test]
fn discarded_bytes_are_not_buffered() {
    let mut parser = ClientParser::default();
    let mut buf = BytesMut::from(&b"PING "[..]);
    for _ in 0..100 {
        assert_eq!(parser.parse(&mut buf), Ok(None));
        assert!(buf.is_empty());
        buf.extend_from_slice(&[b'x'; 100]);
    }
    buf.extend_from_slice(b"\r\nPONG\r\n");
    assert_eq!(parser.parse(&mut buf), Ok(Some(ClientOp::Ping)));
    assert_eq!(parser.parse(&mut buf), Ok(Some(ClientOp::Pong)));
    assert!(buf.is_empty());
}

#[test]
fn verbs_are_case_insensitive() {
    for input in [
        &b"pInG\r\n"[..],
        b"ping\r\n",
        b"PiNg\r\n",
        b"pong\r\n",
        b"+ok\r\n",
        b"+Ok\r\n",
    ] {
        assert!(matches!(one(input), Ok(Some(_))), "{input:?}");
    }
    assert_eq!(one(b"pUb x 1\r\na\r\n"), Ok(Some(pub_op("x", None, "a"))));
    assert!(matches!(
        one(b"Sub x 1\r\n"),
        Ok(Some(ClientOp::Sub { .. }))
    ));
    assert!(matches!(
        one(b"uNsUb 1\r\n"),
        Ok(Some(ClientOp::Unsub { .. }))
    ));
    assert!(matches!(
        one(b"HpUb x 0 0\r\n\r\n"),
        Ok(Some(ClientOp::HPub { .. }))
    ));
    assert!(matches!(
        one(b"Connect {}\r\n"),
        Ok(Some(ClientOp::Connect(_)))
    ));
    assert_eq!(one(b"iNfO {}\r\n"), Ok(Some(ClientOp::Info)));
    assert!(matches!(one(b"-err 'x'\r\n"), Ok(Some(ClientOp::Err(_)))));
}

#[test]
fn tabs_and_runs_of_blanks_separate_arguments() {
    assert_eq!(
        one(b"PUB\tfoo \t bar\t\t3  \r\nabc\r\n"),
        Ok(Some(pub_op("foo", Some("bar"), "abc")))
    );
    assert_eq!(
        one(b"SUB\t\tfoo\tq\t7\t\r\n"),
        Ok(Some(ClientOp::Sub {
            subject: b("foo"),
            queue: Some(b("q")),
            sid: b("7"),
        }))
    );
}

#[test]
fn bare_newline_ends_a_line() {
    assert_eq!(one(b"PING\n"), Ok(Some(ClientOp::Ping)));
    assert_eq!(
        one(b"PUB foo 2\nhi\r\n"),
        Ok(Some(pub_op("foo", None, "hi")))
    );
    assert!(matches!(one(b"SUB a 1\n"), Ok(Some(ClientOp::Sub { .. }))));
}

#[test]
fn several_ops_in_one_buffer() {
    let (ops, err) = parse_all(b"PING\r\nSUB a 1\r\nPUB a 1\r\nx\r\nPONG\r\nPI");
    assert_eq!(err, None);
    assert_eq!(ops.len(), 4);
    assert_eq!(ops[2], pub_op("a", None, "x"));
}

#[test]
fn unknown_operations() {
    for input in [
        &b"FOO"[..],
        b"MSG foo 1 1\r\n",
        b"RS+ $G foo\r\n",
        b"LS+ foo\r\n",
        b"A",
        b"\r\n",
        b" PING\r\n",
        b"PX",
        b"PUBX",
        b"PUB\r\n",
        b"SUBS",
        b"CONNECT\r\n",
        b"INFO\r\n",
        b"-ERR\r\n",
        b"+X",
        b"HPUx",
        b"\x0b",
    ] {
        assert_eq!(
            one(input),
            Err(ProtocolError::UnknownOperation),
            "{input:?}"
        );
    }
}

#[test]
fn verb_prefixes_wait_for_more() {
    for input in [
        &b""[..],
        b"P",
        b"PU",
        b"PUB",
        b"PIN",
        b"HPU",
        b"CONNEC",
        b"CONNECT",
        b"+O",
        b"-ER",
        b"UNSUB",
    ] {
        assert_eq!(one(input), Ok(None), "{input:?}");
    }
}

#[test]
fn payload_must_end_with_crlf() {
    assert_eq!(
        one(b"PUB foo 2\r\nhix\r\n"),
        Err(ProtocolError::UnknownOperation)
    );
    assert_eq!(
        one(b"PUB foo 2\r\nhi\rx"),
        Err(ProtocolError::UnknownOperation)
    );
    assert_eq!(
        one(b"PUB foo 2\r\nhi\n"),
        Err(ProtocolError::UnknownOperation)
    );
    // Caught from the first wrong byte, before the second arrives.
    assert_eq!(
        one(b"PUB foo 2\r\nhix"),
        Err(ProtocolError::UnknownOperation)
    );
    assert_eq!(one(b"PUB foo 2\r\nhi\r"), Ok(None));
}

#[test]
fn invalid_arguments() {
    let cases: [(&[u8], OpKind); 17] = [
        (b"PUB foo\r\n", OpKind::Pub),
        (b"PUB \r\n", OpKind::Pub),
        (b"PUB a b c 1\r\n", OpKind::Pub),
        (b"PUB foo x\r\n", OpKind::Pub),
        (b"PUB foo -1\r\n", OpKind::Pub),
        (b"PUB foo +1\r\n", OpKind::Pub),
        (b"PUB foo 1234567890\r\n", OpKind::Pub),
        (b"HPUB foo 1\r\n", OpKind::HPub),
        (b"HPUB foo 5 4\r\n", OpKind::HPub),
        (b"HPUB foo x 4\r\n", OpKind::HPub),
        (b"HPUB a b c 1 2\r\n", OpKind::HPub),
        (b"SUB foo\r\n", OpKind::Sub),
        (b"SUB a b c d\r\n", OpKind::Sub),
        (b"SUB \r\n", OpKind::Sub),
        (b"UNSUB \r\n", OpKind::Unsub),
        (b"UNSUB 1 2 3\r\n", OpKind::Unsub),
        (b"UNSUB\t\t\r\n", OpKind::Unsub),
    ];
    for (input, kind) in cases {
        assert_eq!(
            one(input),
            Err(ProtocolError::InvalidArguments(kind)),
            "{input:?}"
        );
    }
}

#[test]
fn max_payload_is_checked_on_the_control_line() {
    let limits = Limits {
        max_payload: 4,
        ..Limits::default()
    };
    let (ops, err) = parse_all_with(limits, b"PUB a 4\r\nabcd\r\n");
    assert_eq!((ops.len(), err), (1, None));
    // No payload bytes present yet: rejected from the line alone.
    let (_, err) = parse_all_with(limits, b"PUB a 5\r\n");
    assert_eq!(
        err,
        Some(ProtocolError::MaxPayloadExceeded { size: 5, max: 4 })
    );
    let (_, err) = parse_all_with(limits, b"HPUB a 2 5\r\n");
    assert_eq!(
        err,
        Some(ProtocolError::MaxPayloadExceeded { size: 5, max: 4 })
    );
    assert_eq!(
        one(b"PUB a 1048577\r\n"),
        Err(ProtocolError::MaxPayloadExceeded {
            size: 1_048_577,
            max: 1_048_576
        })
    );
}

#[test]
fn malformed_args_are_reported_before_max_payload() {
    let limits = Limits {
        max_payload: 4,
        ..Limits::default()
    };
    let (_, err) = parse_all_with(limits, b"HPUB a 9 5\r\n");
    assert_eq!(err, Some(ProtocolError::InvalidArguments(OpKind::HPub)));
}

#[test]
fn max_control_line_on_complete_lines() {
    let limits = Limits {
        max_control_line: 10,
        ..Limits::default()
    };
    // Arguments of exactly 10 bytes pass, 11 fail, with or without '\r'.
    let (ops, err) = parse_all_with(limits, b"SUB abcdef 123\r\nSUB abcdef 123\n");
    assert_eq!((ops.len(), err), (2, None));
    for input in [&b"SUB abcdef 1234\r\n"[..], b"SUB abcdef 1234\n"] {
        let (_, err) = parse_all_with(limits, input);
        assert_eq!(err, Some(ProtocolError::MaxControlLineExceeded));
    }
    let (_, err) = parse_all_with(limits, b"CONNECT {\"a\":12345}\r\n");
    assert_eq!(err, Some(ProtocolError::MaxControlLineExceeded));
    // The length check comes before the argument check.
    let (_, err) = parse_all_with(limits, b"PUB a b c d e f g\r\n");
    assert_eq!(err, Some(ProtocolError::MaxControlLineExceeded));
}

#[test]
fn max_control_line_on_partial_lines() {
    let limits = Limits {
        max_control_line: 10,
        ..Limits::default()
    };
    let mut parser = ClientParser::new(limits);
    let mut buf = BytesMut::from(&b"PUB "[..]);
    let mut result = Ok(None);
    for _ in 0..20 {
        result = parser.parse(&mut buf);
        if result.is_err() {
            break;
        }
        assert!(buf.len() <= 3 + 2 + 10, "buffered {}", buf.len());
        buf.extend_from_slice(b"x");
    }
    assert_eq!(result, Err(ProtocolError::MaxControlLineExceeded));
}

#[test]
fn default_control_line_limit() {
    let args_ok = [&b"CONNECT "[..], &[b'x'; 4096], b"\r\n"].concat();
    assert!(matches!(one(&args_ok), Ok(Some(ClientOp::Connect(_)))));
    let args_long = [&b"CONNECT "[..], &[b'x'; 4097], b"\r\n"].concat();
    assert_eq!(one(&args_long), Err(ProtocolError::MaxControlLineExceeded));
    let unterminated = [&b"SUB "[..], &[b'x'; 5000]].concat();
    assert_eq!(
        one(&unterminated),
        Err(ProtocolError::MaxControlLineExceeded)
    );
}

#[test]
fn fields_share_the_input_allocation() {
    let mut parser = ClientParser::default();
    let mut buf = BytesMut::from(&b"PUB subj reply 5\r\nhello\r\nPING\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let Ok(Some(ClientOp::Pub {
        subject,
        reply,
        payload,
    })) = parser.parse(&mut buf)
    else {
        panic!("expected PUB");
    };
    assert_eq!(subject.as_ptr() as usize, base + 4);
    assert_eq!(reply.map(|r| r.as_ptr() as usize), Some(base + 9));
    assert_eq!(payload.as_ptr() as usize, base + 18);
    assert_eq!(&buf[..], b"PING\r\n");
}

#[test]
fn incomplete_payload_reserves_what_is_missing() {
    let mut parser = ClientParser::default();
    let mut buf = BytesMut::from(&b"PUB foo 100000\r\nabc"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    assert!(buf.capacity() >= "PUB foo 100000\r\n".len() + 100_002);
    buf.extend_from_slice(&[b'x'; 99_997]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    buf.extend_from_slice(b"\r\n");
    let Ok(Some(ClientOp::Pub { payload, .. })) = parser.parse(&mut buf) else {
        panic!("expected PUB");
    };
    assert_eq!(payload.len(), 100_000);
    assert!(buf.is_empty());
}

#[test]
fn set_limits_applies_to_later_ops() {
    let mut parser = ClientParser::default();
    let mut buf = BytesMut::from(&b"PUB a 3\r\nabc\r\nPUB a 3\r\nabc\r\n"[..]);
    assert!(matches!(parser.parse(&mut buf), Ok(Some(_))));
    parser.set_limits(Limits {
        max_payload: 2,
        ..Limits::default()
    });
    assert_eq!(parser.limits().max_payload, 2);
    assert_eq!(
        parser.parse(&mut buf),
        Err(ProtocolError::MaxPayloadExceeded { size: 3, max: 2 })
    );
}

#[test]
fn parse_size_matches_nats_server() {
    assert_eq!(parse_size(b"0"), Some(0));
    assert_eq!(parse_size(b"007"), Some(7));
    assert_eq!(parse_size(b"999999999"), Some(999_999_999));
    assert_eq!(parse_size(b"1234567890"), None);
    assert_eq!(parse_size(b""), None);
    assert_eq!(parse_size(b"-1"), None);
    assert_eq!(parse_size(b"12a"), None);
}
