//! Serves a plain file through the mirror's front end (FUSE + direct-I/O loop device),
//! with no replication: the front end's own cost, for bench/mirror-front.sh.
//!
//!   serve_file IMAGE DIR [THREADS]
//!
//! Prints the loop device on stdout, serves until stdin closes, then detaches the loop
//! device, unmounts FUSE, and prints the request counters on stderr. Exit 2 on bad
//! usage, 1 when serving or stopping fails.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use baton_mirror::front::{self, FileVolume, FrontOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (image, dir, threads) = match args.as_slice() {
        [image, dir] => (image, dir, FrontOptions::default().threads),
        [image, dir, threads] => match threads.parse() {
            Ok(threads) => (image, dir, threads),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let volume = match FileVolume::open(Path::new(image)) {
        Ok(volume) => volume,
        Err(e) => return fail(&e),
    };
    let mut served = match front::serve(Arc::new(volume), Path::new(dir), &FrontOptions { threads }) {
        Ok(served) => served,
        Err(e) => return fail(&e),
    };
    println!("{}", served.device().display());
    let _ = std::io::stdout().flush();
    // Serve until stdin closes (the script closes it after unmounting its file system).
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    let stats = served.stats();
    eprintln!(
        "served: reads {} ({} bytes), writes {} ({} bytes), flushes {}, errors {}, most in flight {}",
        stats.reads.load(Ordering::Relaxed),
        stats.bytes_read.load(Ordering::Relaxed),
        stats.writes.load(Ordering::Relaxed),
        stats.bytes_written.load(Ordering::Relaxed),
        stats.flushes.load(Ordering::Relaxed),
        stats.errors.load(Ordering::Relaxed),
        stats.max_in_flight.load(Ordering::Relaxed),
    );
    match served.stop() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: serve_file IMAGE DIR [THREADS]  (serves IMAGE as a loop device until stdin closes)");
    ExitCode::from(2)
}

fn fail(e: &std::io::Error) -> ExitCode {
    eprintln!("serve_file: {e}");
    ExitCode::from(1)
}
