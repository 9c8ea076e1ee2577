//! Archives a file with a profile and prints the report as JSON:
//! `cargo run -p custody-transcode --example archive -- PROFILE OUT IN... [--from S --to S]`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: archive PROFILE OUT IN... [--from S --to S]");
        std::process::exit(2);
    }
    let mut opts = custody_transcode::Options {
        profile: args[0].parse().unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        }),
        ..Default::default()
    };
    let mut inputs = Vec::new();
    let mut it = args[2..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--from" => opts.from = it.next().and_then(|v| v.parse().ok()),
            "--to" => opts.to = it.next().and_then(|v| v.parse().ok()),
            _ => inputs.push(a.clone()),
        }
    }
    match custody_transcode::archive(&inputs, &args[1], &opts, |_| true) {
        Ok(r) => println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
