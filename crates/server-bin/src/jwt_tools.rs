//! `rnats-server jwt`: set up operator mode without `nsc`. An operator with its system account,
//! accounts (optionally with a signing key) and users with `.creds` files, kept in one
//! directory that the generated `server.conf` points at:
//!
//! ```text
//! DIR/operator.jwt, operator.nk        the operator (its seed: keep it offline)
//! DIR/accounts/NAME.nk, NAME-sk.nk     account seeds (and signing key seeds)
//! DIR/jwt/<account key>.jwt            account JWTs: the full resolver's directory
//! DIR/users/ACCOUNT/NAME.creds         user JWT + seed, for clients
//! DIR/server.conf                      operator, system_account, resolver
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use rnats_jwt::{
    AccountClaims, OperatorClaims, Permission, Seed, UserClaims, decode_account, decode_operator,
    encode_account, encode_operator, encode_user, format_user_creds,
};

const USAGE: &str = "usage:
  rnats-server jwt init [--dir DIR] [--name NAME]
  rnats-server jwt account [--dir DIR] NAME [--signing-key] [--conn N]
  rnats-server jwt user [--dir DIR] ACCOUNT NAME [--pub SUBJECT]... [--sub SUBJECT]... [--bearer] [--expiry SECONDS]
  rnats-server jwt callout-issuer [--dir DIR]
  rnats-server jwt authorize [--dir DIR] ACCOUNT [--allow USER:PASSWORD]...  < request.jwt";

/// The directory when `--dir` is not given.
const DEFAULT_DIR: &str = "nats-operator";

/// The system account's name in the directory.
const SYSTEM: &str = "SYS";

/// `rnats-server jwt …`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    let opts = Options::parse(rest)?;
    match command.as_str() {
        "init" => {
            opts.check_positionals(0)?;
            init(&opts)
        }
        "account" => {
            let name = opts.positional(0, "NAME")?;
            opts.check_positionals(1)?;
            account(&opts, &name)
        }
        "user" => {
            let account = opts.positional(0, "ACCOUNT")?;
            let name = opts.positional(1, "NAME")?;
            opts.check_positionals(2)?;
            user(&opts, &account, &name)
        }
        "callout-issuer" => {
            opts.check_positionals(0)?;
            crate::callout_tools::issuer(&opts.dir)
        }
        "authorize" => {
            let account = opts.positional(0, "ACCOUNT")?;
            opts.check_positionals(1)?;
            crate::callout_tools::check_allow(&opts.allow)?;
            crate::callout_tools::authorize(&opts.dir, &account, &opts.allow)
        }
        other => bail!("unknown jwt command {other:?}\n{USAGE}"),
    }
}

#[derive(Default)]
struct Options {
    dir: PathBuf,
    name: Option<String>,
    signing_key: bool,
    conn: Option<i64>,
    publish: Vec<String>,
    subscribe: Vec<String>,
    bearer: bool,
    expiry: Option<u64>,
    allow: Vec<String>,
    positionals: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let mut o = Self {
            dir: PathBuf::from(DEFAULT_DIR),
            ..Self::default()
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |flag: &str| {
                it.next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value"))
            };
            match arg.as_str() {
                "--dir" => o.dir = PathBuf::from(value("--dir")?),
                "--name" => o.name = Some(value("--name")?),
                "--signing-key" => o.signing_key = true,
                "--conn" => o.conn = Some(value("--conn")?.parse().context("--conn")?),
                "--pub" => o.publish.push(value("--pub")?),
                "--sub" => o.subscribe.push(value("--sub")?),
                "--bearer" => o.bearer = true,
                "--expiry" => o.expiry = Some(value("--expiry")?.parse().context("--expiry")?),
                "--allow" => o.allow.push(value("--allow")?),
                flag if flag.starts_with("--") => bail!("unknown option {flag:?}\n{USAGE}"),
                _ => o.positionals.push(arg.clone()),
            }
        }
        Ok(o)
    }

    fn positional(&self, i: usize, what: &str) -> Result<String> {
        let value = self
            .positionals
            .get(i)
            .with_context(|| format!("missing {what}\n{USAGE}"))?;
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bail!("{what} {value:?} must be letters, digits, '-' or '_'");
        }
        Ok(value.clone())
    }

    fn check_positionals(&self, n: usize) -> Result<()> {
        if self.positionals.len() > n {
            bail!("unexpected argument {:?}\n{USAGE}", self.positionals[n]);
        }
        Ok(())
    }
}

/// An operator and its system account, and the configuration that trusts them.
#[allow(clippy::print_stdout)] // reason: what was made is the tool's output
fn init(o: &Options) -> Result<()> {
    if o.dir.join("operator.jwt").exists() {
        bail!("{} already holds an operator", o.dir.display());
    }
    for sub in ["accounts", "jwt", "users"] {
        std::fs::create_dir_all(o.dir.join(sub))
            .with_context(|| format!("creating {}", o.dir.join(sub).display()))?;
    }
    let operator = nkeys::KeyPair::new_operator();
    let system = nkeys::KeyPair::new_account();
    let mut claims = OperatorClaims::new(operator.public_key());
    claims.name = Some(o.name.clone().unwrap_or_else(|| "operator".to_owned()));
    claims.system_account = Some(system.public_key());
    let operator_jwt = encode_operator(&claims, &operator)?;
    write_secret(&o.dir.join("operator.nk"), &seed_of(&operator)?)?;
    write(&o.dir.join("operator.jwt"), &operator_jwt)?;
    let mut sys = AccountClaims::new(system.public_key());
    sys.name = Some(SYSTEM.to_owned());
    write_account(
        &o.dir,
        SYSTEM,
        &system,
        None,
        &encode_account(&sys, &operator)?,
    )?;
    let abs = std::path::absolute(&o.dir).context("the directory's absolute path")?;
    let conf = format!(
        "# Operator mode, made by `rnats-server jwt init`.\n\
         operator: \"{}\"\n\
         system_account: {}\n\
         resolver {{ type: full, dir: \"{}\" }}\n",
        abs.join("operator.jwt").display(),
        system.public_key(),
        abs.join("jwt").display()
    );
    write(&o.dir.join("server.conf"), &conf)?;
    println!("operator {}", operator.public_key());
    println!("system account {}", system.public_key());
    println!("configuration {}", o.dir.join("server.conf").display());
    Ok(())
}

/// An account signed by the operator, with a signing key when asked for.
#[allow(clippy::print_stdout)] // reason: what was made is the tool's output
fn account(o: &Options, name: &str) -> Result<()> {
    let operator = read_seed(&o.dir.join("operator.nk"))?;
    let op_claims = decode_operator(&read(&o.dir.join("operator.jwt"))?)
        .context("the directory's operator JWT")?;
    if op_claims.subject != operator.public_key() {
        bail!("operator.nk does not belong to operator.jwt");
    }
    if o.dir.join("accounts").join(format!("{name}.nk")).exists() {
        bail!("account {name:?} exists already");
    }
    let key = nkeys::KeyPair::new_account();
    let mut claims = AccountClaims::new(key.public_key());
    claims.name = Some(name.to_owned());
    if let Some(conn) = o.conn {
        claims.limits.conn = conn;
    }
    let signing = o.signing_key.then(nkeys::KeyPair::new_account);
    if let Some(sk) = &signing {
        claims.signing_keys.add(sk.public_key());
    }
    let jwt = encode_account(&claims, &operator)?;
    write_account(&o.dir, name, &key, signing.as_ref(), &jwt)?;
    println!("account {name} {}", key.public_key());
    if let Some(sk) = signing {
        println!("signing key {}", sk.public_key());
    }
    Ok(())
}

/// A user of `account`, signed by its signing key when it has one, written as a `.creds` file.
#[allow(clippy::print_stdout)] // reason: what was made is the tool's output
fn user(o: &Options, account: &str, name: &str) -> Result<()> {
    let accounts = o.dir.join("accounts");
    let account_key = read_seed(&accounts.join(format!("{account}.nk")))
        .with_context(|| format!("account {account:?}"))?;
    let jwt_path = o
        .dir
        .join("jwt")
        .join(format!("{}.jwt", account_key.public_key()));
    let account_claims = decode_account(&read(&jwt_path)?).context("the account's JWT")?;
    let signing_path = accounts.join(format!("{account}-sk.nk"));
    let signer = if signing_path.exists() {
        read_seed(&signing_path)?
    } else {
        account_key
    };
    let user = nkeys::KeyPair::new_user();
    let mut claims = UserClaims::new(user.public_key(), account_claims.subject.clone());
    claims.name = Some(name.to_owned());
    if signer.public_key() != account_claims.subject {
        claims.issuer_account = Some(account_claims.subject);
    }
    claims.permissions.publish = Permission::allow(o.publish.iter().cloned());
    claims.permissions.subscribe = Permission::allow(o.subscribe.iter().cloned());
    claims.bearer_token = o.bearer;
    claims.expires = o
        .expiry
        .map(|secs| SystemTime::now() + Duration::from_secs(secs));
    let jwt = encode_user(&claims, &signer);
    let creds = format_user_creds(&jwt, &Seed::new(seed_of(&user)?)?)?;
    let dir = o.dir.join("users").join(account);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{name}.creds"));
    if path.exists() {
        bail!("{} exists already", path.display());
    }
    write_secret(&path, &creds)?;
    println!("user {name} {}", user.public_key());
    println!("creds {}", path.display());
    Ok(())
}

/// The account's seed (and signing key's), and its JWT in the resolver directory.
fn write_account(
    dir: &Path,
    name: &str,
    key: &nkeys::KeyPair,
    signing: Option<&nkeys::KeyPair>,
    jwt: &str,
) -> Result<()> {
    let accounts = dir.join("accounts");
    write_secret(&accounts.join(format!("{name}.nk")), &seed_of(key)?)?;
    if let Some(sk) = signing {
        write_secret(&accounts.join(format!("{name}-sk.nk")), &seed_of(sk)?)?;
    }
    write(
        &dir.join("jwt").join(format!("{}.jwt", key.public_key())),
        jwt,
    )
}

pub(crate) fn seed_of(key: &nkeys::KeyPair) -> Result<String> {
    key.seed().map_err(|e| anyhow::anyhow!("{e}"))
}

pub(crate) fn read_seed(path: &Path) -> Result<nkeys::KeyPair> {
    let text = read(path)?;
    // The seed itself is never shown in an error.
    nkeys::KeyPair::from_seed(text.trim())
        .map_err(|_| anyhow::anyhow!("{} does not hold an NKey seed", path.display()))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A file only its owner may read (seeds, creds).
pub(crate) fn write_secret(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
