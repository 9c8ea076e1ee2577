//! Compares two files by their decoded pictures and sound and prints the
//! result as JSON: `cargo run -p custody-transcode --example compare -- A B`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 {
        eprintln!("usage: compare A B");
        std::process::exit(2);
    }
    match custody_transcode::compare(&args[0], &args[1], |_| true) {
        Ok(c) => {
            println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
            std::process::exit(if c.identical { 0 } else { 1 });
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
