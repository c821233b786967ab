//! `conformance`: runs the kit against a runtime and prints one line per duty.

use std::process::ExitCode;

use conformance::checks::{CHECKS, Kit};
use conformance::runtime::{CONNECTOR_HOST, Runtime};

const USAGE: &str = "usage: conformance [--runtime TEMPLATE] [--setting-format F] [--secret-format F] [--only CHECK]...

Runs the probe component through a connector runtime, one check per runtime duty of
wit/connector.wit, and prints PASS or FAIL for each. Exit 0 when all pass.

  --runtime TEMPLATE    how to run the runtime; words {component} {out} {allowed}, and the
                        words {settings} and {secrets} (default: target/debug/connector-host)
  --setting-format F    the words of one setting, with {name} and {value} (default: -s {name}={value})
  --secret-format F     the words of one secret, with {name} and {env}, the environment variable
                        holding its value (default: --secret {name}=env:{env})
  --only CHECK          run only this check (repeatable)";

#[tokio::main]
async fn main() -> ExitCode {
    let root = conformance::root();
    let host = root.join("target/debug/connector-host");
    let mut runtime = Runtime::connector_host(&host);
    let mut only = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let parsed = match arg.as_str() {
            "--runtime" => value().map(|v| runtime.template = v),
            "--setting-format" => value().map(|v| runtime.setting_format = v),
            "--secret-format" => value().map(|v| runtime.secret_format = v),
            "--only" => value().map(|v| only.push(v)),
            "-h" | "--help" => {
                println!("{USAGE}\n\nChecks:");
                for c in CHECKS {
                    println!("  {:<20}{}", c.name, c.duty);
                }
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other}")),
        };
        if let Err(e) = parsed {
            eprintln!("conformance: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    if runtime.template == CONNECTOR_HOST.replace("{host}", &host.display().to_string())
        && !host.exists()
    {
        eprintln!(
            "conformance: {} is not built: run `cargo build -p connector-host`, or pass --runtime",
            host.display()
        );
        return ExitCode::from(2);
    }
    let probe = match conformance::build_probe(&root) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("conformance: building the probe: {e}");
            return ExitCode::from(2);
        }
    };
    let scratch = std::env::temp_dir().join(format!("conformance-{}", std::process::id()));
    let kit = match Kit::new(runtime, probe, scratch).await {
        Ok(k) => k,
        Err(e) => {
            eprintln!("conformance: starting the server: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = 0;
    for check in CHECKS
        .iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| o == c.name))
    {
        match kit.check(check).await {
            Ok(()) => println!("PASS {:<20}{}", check.name, check.duty),
            Err(why) => {
                failed += 1;
                println!("FAIL {:<20}{why}", check.name);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&kit.scratch);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
