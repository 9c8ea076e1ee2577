//! Prints each track's timing facts: timescales, durations, edit list.
//!
//! `cargo run --example tracks -- FILE.mp4`

use custody::container::{Limits, bmff::Mp4};

fn main() {
    let path = std::env::args().nth(1).expect("usage: tracks FILE");
    let data = std::fs::read(&path).expect("readable file");
    let mp4 = match Mp4::parse(&data, Limits::default()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let movie = mp4.movie.unwrap_or_default();
    println!(
        "movie timescale {} duration {}",
        movie.timescale, movie.duration
    );
    for t in &mp4.tracks {
        let index = t.index();
        println!(
            "track {} {:?} {:?} timescale {} mdhd duration {} tkhd duration {} samples {} chunks {} edits {:?}",
            t.id,
            t.kind,
            t.codec(),
            t.timescale,
            t.duration,
            t.header_duration,
            index.len(),
            t.chunk_count(),
            t.edits
        );
    }
}
