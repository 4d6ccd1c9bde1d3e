//! Auth callout claims (nats-io/jwt `authorization_claims.go`): the server's
//! `authorization_request` to an external authorization service and the service's
//! `authorization_response`.
//!
//! The request is signed by the server's key (`N…`), is about the account that will issue the
//! user (`sub`) and names a fresh user key (`user_nkey`) the answer must be for. The response is
//! signed by an account key, is about that user key (`sub`), is addressed to the server (`aud`
//! = server id) and carries either a user JWT or an error.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::standard_of;
use super::{ClaimKind, ClaimSet, GenericFields, Standard, V1TopLevel, is_zero_u64, none_if_empty};

/// `server_id`: the server asking (nats-io/jwt `ServerID`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServerId {
    /// `name`: the server's name.
    #[serde(default)]
    pub name: String,
    /// `host`: the client listener's host.
    #[serde(default)]
    pub host: String,
    /// `id`: the server's public key (`N…`), also the response's required audience.
    #[serde(default)]
    pub id: String,
    /// `version`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `cluster`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// `tags`: the server's tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `xkey`: the server's curve key (`X…`) when the request is encrypted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

/// `client_info`: who is connecting (nats-io/jwt `ClientInformation`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClientInformation {
    /// `host`: the client's IP address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// `id`: the connection id.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub id: u64,
    /// `user`: the user name or NKey the client gave (`[REDACTED]` for a token).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `name`: the CONNECT name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `tags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `name_tag`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    /// `kind`: `Client` or `Leafnode`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// `type`: `nats`, `websocket` or `mqtt`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub client_type: String,
    /// `mqtt_id`: the MQTT client id.
    #[serde(default, rename = "mqtt_id", skip_serializing_if = "String::is_empty")]
    pub mqtt: String,
    /// `nonce`: the nonce the client signed (only when it sent `sig`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nonce: String,
}

/// `connect_opts`: the client's CONNECT, credentials included (nats-io/jwt `ConnectOptions`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectOptions {
    /// `jwt`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    /// `nkey`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nkey: String,
    /// `sig`: the signed nonce.
    #[serde(default, rename = "sig", skip_serializing_if = "String::is_empty")]
    pub signed_nonce: String,
    /// `auth_token`.
    #[serde(
        default,
        rename = "auth_token",
        skip_serializing_if = "String::is_empty"
    )]
    pub token: String,
    /// `user`.
    #[serde(default, rename = "user", skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// `pass`.
    #[serde(default, rename = "pass", skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// `name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `lang`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub lang: String,
    /// `version`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `protocol` (always written).
    #[serde(default)]
    pub protocol: i64,
}

/// Shows which secrets are present, never their values.
impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let given = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("ConnectOptions")
            .field("jwt", &given(&self.jwt))
            .field("nkey", &self.nkey)
            .field("sig", &given(&self.signed_nonce))
            .field("auth_token", &given(&self.token))
            .field("user", &self.username)
            .field("pass", &given(&self.password))
            .field("name", &self.name)
            .field("lang", &self.lang)
            .field("version", &self.version)
            .field("protocol", &self.protocol)
            .finish()
    }
}

/// `client_tls`: the client's TLS session (nats-io/jwt `ClientTLS`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClientTls {
    /// `version`: e.g. `1.3`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `cipher`: the Go name of the cipher suite.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cipher: String,
    /// `certs`: the peer certificates in PEM (when there are no verified chains).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certs: Vec<String>,
    /// `verified_chains`: each verified chain, PEM certificates leaf first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified_chains: Vec<Vec<String>>,
}

/// The claims of an `authorization_request` JWT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthorizationRequestClaims {
    /// `jti`: the token id (filled in by the encoder).
    pub id: String,
    /// `iat`: when the token was issued (the encoder writes the current time when `None`).
    pub issued_at: Option<SystemTime>,
    /// `iss`: the server's public key (`N…`).
    pub issuer: String,
    /// `sub`: the account that is to issue the user (config `issuer`, or the callout account).
    pub subject: String,
    /// `name`.
    pub name: Option<String>,
    /// `aud`: `nats-authorization-request`.
    pub audience: Option<String>,
    /// `exp`: the server stops waiting then.
    pub expires: Option<SystemTime>,
    /// `nbf`.
    pub not_before: Option<SystemTime>,
    /// `nats.server_id`.
    pub server: ServerId,
    /// `nats.user_nkey`: the user key the response must be about.
    pub user_nkey: String,
    /// `nats.client_info`.
    pub client_info: ClientInformation,
    /// `nats.connect_opts`.
    pub connect_options: ConnectOptions,
    /// `nats.client_tls`, on TLS connections.
    pub tls: Option<ClientTls>,
    /// `nats.request_nonce`.
    pub request_nonce: Option<String>,
    /// `nats.tags`.
    pub tags: Vec<String>,
    /// The token's layout (the encoder writes 2).
    pub version: u8,
}

impl AuthorizationRequestClaims {
    /// A request about account `subject` (`A…`) for user key `user_nkey` (`U…`).
    pub fn new(subject: impl Into<String>, user_nkey: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            user_nkey: user_nkey.into(),
            version: 2,
            ..Self::default()
        }
    }
}

#[derive(Serialize, Deserialize)]
struct WireRequest {
    #[serde(default, rename = "server_id")]
    server: ServerId,
    #[serde(default)]
    user_nkey: String,
    #[serde(default)]
    client_info: ClientInformation,
    #[serde(default, rename = "connect_opts")]
    connect_options: ConnectOptions,
    #[serde(
        default,
        rename = "client_tls",
        skip_serializing_if = "Option::is_none"
    )]
    tls: Option<ClientTls>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    request_nonce: String,
    #[serde(flatten)]
    generic: GenericFields,
}

impl ClaimSet for AuthorizationRequestClaims {
    const KIND: ClaimKind = ClaimKind::AuthorizationRequest;

    fn standard(&self) -> Standard {
        standard_of!(self)
    }

    fn to_nats(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(WireRequest {
            server: self.server.clone(),
            user_nkey: self.user_nkey.clone(),
            client_info: self.client_info.clone(),
            connect_options: self.connect_options.clone(),
            tls: self.tls.clone(),
            request_nonce: self.request_nonce.clone().unwrap_or_default(),
            generic: GenericFields::for_encoding(Self::KIND, &self.tags),
        })
    }

    fn from_parts(
        s: Standard,
        nats: Map<String, Value>,
        _: V1TopLevel,
    ) -> serde_json::Result<Self> {
        let n: WireRequest = serde_json::from_value(Value::Object(nats))?;
        Ok(Self {
            id: s.id,
            issued_at: s.issued_at,
            issuer: s.issuer,
            subject: s.subject,
            name: s.name,
            audience: s.audience,
            expires: s.expires,
            not_before: s.not_before,
            server: n.server,
            user_nkey: n.user_nkey,
            client_info: n.client_info,
            connect_options: n.connect_options,
            tls: n.tls,
            request_nonce: none_if_empty(n.request_nonce),
            tags: n.generic.tags,
            version: s.version,
        })
    }
}

/// The claims of an `authorization_response` JWT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthorizationResponseClaims {
    /// `jti`: the token id (filled in by the encoder).
    pub id: String,
    /// `iat`: when the token was issued (the encoder writes the current time when `None`).
    pub issued_at: Option<SystemTime>,
    /// `iss`: an account key (`A…`).
    pub issuer: String,
    /// `sub`: the request's `user_nkey`.
    pub subject: String,
    /// `name`.
    pub name: Option<String>,
    /// `aud`: the server id of the request.
    pub audience: Option<String>,
    /// `exp`.
    pub expires: Option<SystemTime>,
    /// `nbf`.
    pub not_before: Option<SystemTime>,
    /// `nats.jwt`: the user JWT, when the user is let in.
    pub jwt: Option<String>,
    /// `nats.error`: why the user is refused.
    pub error: Option<String>,
    /// `nats.issuer_account`: the account `iss` signs for, when it is a signing key.
    pub issuer_account: Option<String>,
    /// `nats.tags`.
    pub tags: Vec<String>,
    /// The token's layout (the encoder writes 2).
    pub version: u8,
}

impl AuthorizationResponseClaims {
    /// A response about user key `subject` (`U…`), addressed to server `audience`.
    pub fn new(subject: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            audience: Some(audience.into()),
            version: 2,
            ..Self::default()
        }
    }

    /// nats-io/jwt `AuthorizationResponseClaims.Validate` (without the time checks, which
    /// decoding does): the first issue found, as nats-io/jwt words it.
    pub fn validate(&self) -> Result<(), &'static str> {
        use crate::token::is_public_key;
        use nkeys::KeyPairType;
        if !is_public_key(&self.subject, &KeyPairType::User) {
            return Err("Subject must be a user public key");
        }
        if !is_public_key(self.audience.as_deref().unwrap_or(""), &KeyPairType::Server) {
            return Err("Audience must be a server public key");
        }
        match (&self.error, &self.jwt) {
            (None, None) => return Err("Error or Jwt is required"),
            (Some(_), Some(_)) => return Err("Only Error or Jwt can be set"),
            _ => {}
        }
        if let Some(ia) = &self.issuer_account
            && !is_public_key(ia, &KeyPairType::Account)
        {
            return Err("issuer_account is not an account public key");
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct WireResponse {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    jwt: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    error: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    issuer_account: String,
    #[serde(flatten)]
    generic: GenericFields,
}

impl ClaimSet for AuthorizationResponseClaims {
    const KIND: ClaimKind = ClaimKind::AuthorizationResponse;

    fn standard(&self) -> Standard {
        standard_of!(self)
    }

    fn to_nats(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(WireResponse {
            jwt: self.jwt.clone().unwrap_or_default(),
            error: self.error.clone().unwrap_or_default(),
            issuer_account: self.issuer_account.clone().unwrap_or_default(),
            generic: GenericFields::for_encoding(Self::KIND, &self.tags),
        })
    }

    fn from_parts(
        s: Standard,
        nats: Map<String, Value>,
        _: V1TopLevel,
    ) -> serde_json::Result<Self> {
        let n: WireResponse = serde_json::from_value(Value::Object(nats))?;
        Ok(Self {
            id: s.id,
            issued_at: s.issued_at,
            issuer: s.issuer,
            subject: s.subject,
            name: s.name,
            audience: s.audience,
            expires: s.expires,
            not_before: s.not_before,
            jwt: none_if_empty(n.jwt),
            error: none_if_empty(n.error),
            issuer_account: none_if_empty(n.issuer_account),
            tags: n.generic.tags,
            version: s.version,
        })
    }

    fn issuer_account(&self) -> Option<&str> {
        self.issuer_account.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use nkeys::KeyPair;

    use super::*;
    use crate::{
        JwtError, decode_authorization_request, decode_authorization_response,
        encode_authorization_request, encode_authorization_response,
    };

    #[test]
    fn request_round_trips_with_nats_io_field_names() {
        let server = KeyPair::new_server();
        let user = KeyPair::new_user().public_key();
        let mut c = AuthorizationRequestClaims::new(KeyPair::new_account().public_key(), &user);
        c.audience = Some("nats-authorization-request".into());
        c.server = ServerId {
            name: "n1".into(),
            host: "0.0.0.0".into(),
            id: server.public_key(),
            version: "2.15.1".into(),
            xkey: "XABC".into(),
            ..ServerId::default()
        };
        c.client_info.host = "127.0.0.1".into();
        c.client_info.id = 7;
        c.client_info.kind = "Client".into();
        c.client_info.client_type = "nats".into();
        c.connect_options.username = "alice".into();
        c.connect_options.password = "s3cret".into();
        c.connect_options.protocol = 1;
        let token = encode_authorization_request(&c, &server).unwrap();
        let back = decode_authorization_request(&token).unwrap();
        assert_eq!(back.issuer, server.public_key());
        assert_eq!(back.user_nkey, user);
        assert_eq!(back.server, c.server);
        assert_eq!(back.client_info, c.client_info);
        assert_eq!(back.connect_options, c.connect_options);
        assert_eq!(back.tls, None);
        // The payload uses nats-io/jwt's names.
        let payload = token.split('.').nth(1).unwrap();
        let json = data_encoding::BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .unwrap();
        let v: Value = serde_json::from_slice(&json).unwrap();
        let nats = &v["nats"];
        assert_eq!(nats["type"], "authorization_request");
        assert_eq!(nats["version"], 2);
        assert_eq!(nats["server_id"]["xkey"], "XABC");
        assert_eq!(nats["client_info"]["type"], "nats");
        assert_eq!(nats["connect_opts"]["user"], "alice");
        assert_eq!(nats["connect_opts"]["pass"], "s3cret");
        assert_eq!(nats["connect_opts"]["protocol"], 1);
        assert!(nats.get("client_tls").is_none());
        // Debug output hides the password.
        assert!(!format!("{back:?}").contains("s3cret"));
    }

    #[test]
    fn only_a_server_key_signs_requests() {
        let c = AuthorizationRequestClaims::new(
            KeyPair::new_account().public_key(),
            KeyPair::new_user().public_key(),
        );
        assert!(matches!(
            encode_authorization_request(&c, &KeyPair::new_account()),
            Err(JwtError::BadIssuer { .. })
        ));
    }

    #[test]
    fn response_round_trips_and_validates_as_nats_io() {
        let account = KeyPair::new_account();
        let user = KeyPair::new_user().public_key();
        let server = KeyPair::new_server().public_key();
        let mut r = AuthorizationResponseClaims::new(&user, &server);
        assert_eq!(r.validate(), Err("Error or Jwt is required"));
        r.jwt = Some("eyJ.x.y".into());
        assert_eq!(r.validate(), Ok(()));
        r.error = Some("no".into());
        assert_eq!(r.validate(), Err("Only Error or Jwt can be set"));
        r.jwt = None;
        let token = encode_authorization_response(&r, &account).unwrap();
        let back = decode_authorization_response(&token).unwrap();
        assert_eq!(back.error.as_deref(), Some("no"));
        assert_eq!(back.audience.as_deref(), Some(server.as_str()));
        assert_eq!(back.issuer, account.public_key());
        assert_eq!(back.validate(), Ok(()));

        let mut bad = back.clone();
        bad.subject = account.public_key();
        assert_eq!(bad.validate(), Err("Subject must be a user public key"));
        let mut bad = back;
        bad.audience = Some("server-1".into());
        assert_eq!(bad.validate(), Err("Audience must be a server public key"));
        // A user key cannot sign a response.
        assert!(encode_authorization_response(&r, &KeyPair::new_user()).is_err());
    }
}
