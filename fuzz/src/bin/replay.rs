//! Stable-toolchain runner for the fuzz targets: replays every file of `seeds/<target>/`, `corpus/<target>/` and
//! `artifacts/<target>/`, then feeds each target `--random N` inputs from a seeded generator
//! (mutations of the corpus files and raw random bytes). Exits non-zero on the first panic.
//!
//! cargo run --release --bin replay -- [--random N] [--seed S] [TARGET ...]

use std::path::Path;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut random, mut seed, mut only) = (10_000usize, 1u64, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--random" => random = args.next().and_then(|n| n.parse().ok()).expect("--random N"),
            "--seed" => seed = args.next().and_then(|n| n.parse().ok()).expect("--seed S"),
            t => only.push(t.to_owned()),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, target) in standin_fuzz::TARGETS {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let mut inputs = Vec::new();
        for dir in ["seeds", "corpus", "artifacts"] {
            if let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) {
                for e in entries.flatten() {
                    if let Ok(bytes) = std::fs::read(e.path()) {
                        inputs.push(bytes);
                    }
                }
            }
        }
        let replayed = inputs.len();
        for input in &inputs {
            target(input);
        }
        let mut rng = Rng(seed ^ name.len() as u64);
        for _ in 0..random {
            let input = match inputs.is_empty() || rng.below(4) == 0 {
                true => (0..rng.below(256)).map(|_| rng.below(256) as u8).collect(),
                false => mutate(&inputs[rng.below(inputs.len())], &mut rng),
            };
            target(&input);
        }
        println!("{name}: {replayed} corpus inputs replayed, {random} random inputs, no crash");
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// A few byte flips, insertions, deletions and splices of `input`.
fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(8) {
        let at = rng.below(out.len() + 1);
        match rng.below(4) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 => out.insert(at, rng.below(256) as u8),
            2 if at < out.len() => {
                out.remove(at);
            }
            _ => {
                let from = rng.below(out.len() + 1);
                let chunk: Vec<u8> = out[from..(from + rng.below(16)).min(out.len())].to_vec();
                out.splice(at..at, chunk);
            }
        }
    }
    out
}
