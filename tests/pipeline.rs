//! The user's pipeline: corpus readers (including bad files), tokenizers, checkpoints (round trip,
//! corruption), bit-for-bit resume on the CPU backend.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use neurogen::pipeline::checkpoint::{self, RunRecord};
use neurogen::pipeline::corpus::{self, Documents, OnBadData};
use neurogen::pipeline::run::{self, Budget, RunOptions};
use neurogen::{Engine, ModelConfig, NeuroError, Preset, Tokenizer};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn all_documents(files: Vec<PathBuf>, on_bad: OnBadData) -> Result<(Vec<String>, Vec<String>), NeuroError> {
    let mut docs = Documents::new(files, on_bad);
    let mut out = Vec::new();
    while let Some(d) = docs.next_document()? {
        out.push(d);
    }
    Ok((out, docs.problems))
}

#[test]
fn readers_stream_text_jsonl_and_zstd_from_dirs_and_globs() {
    let d = temp_dir("readers");
    write(&d.join("a.txt"), "first line\n\nsecond line\n");
    write(&d.join("b.jsonl"), "{\"text\": \"json doc\", \"meta\": 1}\n{\"text\": \"another\"}\n");
    let mut enc = zstd::Encoder::new(std::fs::File::create(d.join("c.jsonl.zst")).unwrap(), 3).unwrap();
    enc.write_all(b"{\"text\": \"compressed doc\"}\n").unwrap();
    enc.finish().unwrap();
    write(&d.join("ignored.bin"), "x");
    let files = corpus::resolve(d.to_str().unwrap()).unwrap();
    assert_eq!(files.len(), 3, "{files:?}");
    let (docs, problems) = all_documents(files, OnBadData::Refuse).unwrap();
    assert_eq!(docs, vec!["first line", "second line", "json doc", "another", "compressed doc"]);
    assert!(problems.is_empty());
    let glob = format!("{}/*.jsonl*", d.display());
    assert_eq!(corpus::resolve(&glob).unwrap().len(), 2);
    assert!(corpus::resolve(&format!("{}/nothing-*.txt", d.display())).is_err());
}

#[test]
fn bad_lines_and_files_are_reported_then_skipped_or_refused() {
    let d = temp_dir("bad");
    write(&d.join("a.jsonl"), "{\"text\": \"ok\"}\n{not json\n{\"body\": \"no text\"}\n{\"text\": \"fine\"}\n");
    std::fs::write(d.join("b.txt"), b"valid\n\xff\xfe bad utf8\n").unwrap();
    write(&d.join("c.jsonl.zst"), "this is not zstd");
    let files = corpus::resolve(d.to_str().unwrap()).unwrap();
    let (docs, problems) = all_documents(files.clone(), OnBadData::Skip).unwrap();
    assert_eq!(docs, vec!["ok", "fine", "valid"]);
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems[0].contains("a.jsonl:2") && problems[0].contains("malformed JSON"), "{problems:?}");
    assert!(problems[1].contains("a.jsonl:3") && problems[1].contains("text"));
    assert!(problems[2].contains("b.txt:2") && problems[2].contains("UTF-8"));
    assert!(problems[3].contains("c.jsonl.zst"));
    match all_documents(files, OnBadData::Refuse) {
        Err(NeuroError::InvalidInput(m)) => assert!(m.contains("a.jsonl:2"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn packing_and_held_out_split() {
    let tok = Tokenizer::bytes();
    let d = temp_dir("pack");
    write(&d.join("t.txt"), &"abcdefghij\n".repeat(40));
    let (p, _) =
        corpus::load(corpus::resolve(d.to_str().unwrap()).unwrap(), &tok, 16, 5, 1000, OnBadData::Refuse).unwrap();
    let all: Vec<&Vec<u32>> = p.train.iter().chain(&p.held_out).collect();
    assert!(all.iter().all(|s| s.len() <= 16 && s[0] == tok.bos()));
    assert_eq!(all.iter().filter(|s| s.len() < 16).count(), 1, "only the tail is shorter");
    assert_eq!(p.held_out.len(), all.len() / 5);
    assert!(p.train[0][1..].contains(&tok.eos()), "documents are separated by EOS");
}

#[test]
fn the_sequence_stream_packs_what_load_packs() {
    let tok = Tokenizer::bytes();
    let d = temp_dir("stream");
    write(&d.join("t.txt"), &(0..30).map(|i| format!("document {i} {}\n", "x".repeat(i))).collect::<String>());
    let files = corpus::resolve(d.to_str().unwrap()).unwrap();
    let (p, _) = corpus::load(files.clone(), &tok, 16, 0, usize::MAX, OnBadData::Refuse).unwrap();
    let mut stream = corpus::SequenceStream::new(files, &tok, 16, OnBadData::Refuse).unwrap();
    let streamed: Vec<Vec<u32>> = std::iter::from_fn(|| stream.next_sequence().unwrap()).collect();
    assert!(streamed.len() > 20);
    assert_eq!(streamed, p.train);
}

#[test]
fn bpe_tokenizer_trains_round_trips_and_sets_the_vocabulary() {
    let d = temp_dir("bpe");
    write(&d.join("c.txt"), &"the spiking brain learns language, one token at a time.\n".repeat(50));
    let out = d.join("tokenizer.json");
    let docs = neurogen::pipeline::corpus::DocumentStream::new(vec![d.join("c.txt")], OnBadData::Refuse);
    let tok = neurogen::pipeline::tokenizer::train_bpe(docs, 300).unwrap();
    tok.save(&out).unwrap();
    assert!(out.is_file());
    let again = Tokenizer::from_file(&out).unwrap();
    let text = "the brain learns, one token at a time";
    let ids = again.encode(text).unwrap();
    assert!(ids.len() < text.len(), "BPE merges bytes");
    assert_eq!(again.decode(&ids), text);
    assert!(tok.vocab_size() > 259 && tok.vocab_size() <= 300);
    let mut cfg = ModelConfig::preset(Preset::Tiny);
    tok.configure(&mut cfg);
    assert_eq!(cfg.vocab, tok.vocab_size());
    let mut eng = Engine::new(cpu(), cfg, 0).unwrap();
    let seq: Vec<u32> = std::iter::once(tok.bos()).chain(ids).collect();
    assert!(eng.evaluate(&[seq]).unwrap().loss.is_finite());
    assert!(Tokenizer::from_file(&d.join("c.txt")).is_err(), "a text file is not a tokenizer");
}

fn small_run(out: &Path, steps: u64, start: Option<run::Resume>, engine: Engine, data: &[Vec<u32>]) -> run::RunSummary {
    let opts = RunOptions {
        budget: Budget::Steps(steps),
        out: out.to_path_buf(),
        seed: 7,
        checkpoint_every: 3,
        sample_every: 0,
        sample_prompt: "ab".into(),
        json: true,
        record: RunRecord {
            held_out: None,
            data: "data()".into(),
            batch: 2,
            seq_len: 20,
            held_out_every: 0,
            max_sequences: 9,
            tokens: 0,
            seconds: 0.0,
        },
        stop: None,
    };
    run::train(engine, &Tokenizer::bytes(), data, &data[..2], &opts, start).unwrap()
}

fn tiny_with_sleep() -> ModelConfig {
    let mut cfg = ModelConfig::preset(Preset::Tiny);
    cfg.learn.rule = neurogen::config::Rule::Reward; // sleep changes the network: the reward rule's
    cfg.learn.sleep_interval = 2;
    cfg.learn.replay_batch = 2;
    cfg
}

fn data() -> Vec<Vec<u32>> {
    (0..9)
        .map(|s| {
            (0..20).map(|i| 256 * (i == 0) as u32 + ((i * 7 + s * 3) % 26 + 97) as u32 * (i != 0) as u32).collect()
        })
        .collect()
}

#[test]
fn checkpoints_round_trip_and_refuse_corruption() {
    let d = temp_dir("ckpt");
    let eng = Engine::new(cpu(), tiny_with_sleep(), 3).unwrap();
    small_run(&d, 3, None, eng, &data());
    let ck = checkpoint::load(&d).unwrap(); // the run directory resolves to its latest checkpoint
    assert_eq!(ck.manifest.train_steps, 3);
    assert!(!ck.replay.is_empty() && ck.snapshot.slots.is_some());
    let mut eng = Engine::from_snapshot(cpu(), ck.manifest.config.clone(), &ck.snapshot).unwrap();
    assert!(eng.snapshot().unwrap() == ck.snapshot, "load → engine → snapshot is the identity");
    for f in [
        "metrics.jsonl",
        "samples.json",
        "held_out.json",
        "charts/loss.png",
        "charts/activity.png",
        "charts/neuromodulators.png",
    ] {
        assert!(d.join(f).is_file(), "missing {f}");
    }

    // Corruptions: a flipped byte, a truncated manifest, a future version, a mismatched config.
    let dir = ck.dir.clone();
    let copy = |name: &str| {
        let c = d.join(name);
        std::fs::create_dir_all(&c).unwrap();
        for f in ["manifest.json", "tensors.safetensors"] {
            std::fs::copy(dir.join(f), c.join(f)).unwrap();
        }
        c
    };
    let c = copy("flip");
    let mut t = std::fs::read(c.join("tensors.safetensors")).unwrap();
    let n = t.len();
    t[n / 2] ^= 0x40;
    std::fs::write(c.join("tensors.safetensors"), t).unwrap();
    assert!(checkpoint::load(&c).unwrap_err().to_string().contains("checksum"));
    let c = copy("trunc");
    let m = std::fs::read_to_string(c.join("manifest.json")).unwrap();
    std::fs::write(c.join("manifest.json"), &m[..m.len() / 2]).unwrap();
    assert!(checkpoint::load(&c).unwrap_err().to_string().contains("corrupt manifest"));
    let c = copy("version");
    std::fs::write(c.join("manifest.json"), m.replace("\"format_version\": 1", "\"format_version\": 99")).unwrap();
    assert!(checkpoint::load(&c).unwrap_err().to_string().contains("format version 99"));
    let c = copy("shape");
    std::fs::write(c.join("manifest.json"), m.replacen("\"n\": 512", "\"n\": 768", 1)).unwrap();
    let e = checkpoint::load(&c).unwrap_err().to_string();
    assert!(e.contains("tensor") && e.contains("needs"), "{e}");
    assert!(checkpoint::load(&d.join("nowhere")).is_err());
}

#[test]
fn resume_continues_bit_for_bit_on_the_cpu() {
    let straight = temp_dir("straight");
    let eng = Engine::new(cpu(), tiny_with_sleep(), 5).unwrap();
    small_run(&straight, 6, None, eng, &data());
    let split = temp_dir("split");
    let eng = Engine::new(cpu(), tiny_with_sleep(), 5).unwrap();
    small_run(&split, 3, None, eng, &data());
    let ck = checkpoint::load(&split).unwrap();
    let eng = Engine::from_snapshot(cpu(), ck.manifest.config.clone(), &ck.snapshot).unwrap();
    assert_eq!(ck.manifest.train_steps, 3);
    small_run(&split, 6, Some(run::Resume::from_checkpoint(&ck)), eng, &data());
    let a = checkpoint::load(&straight).unwrap();
    let b = checkpoint::load(&split).unwrap();
    assert_eq!(a.manifest.train_steps, 6);
    assert_eq!(b.manifest.train_steps, 6);
    assert_eq!(a.manifest.step, 9, "6 data steps and 3 replays (sleep every 2 steps)");
    assert_eq!(b.manifest.step, 9);
    assert!(a.snapshot == b.snapshot, "resumed run ends with identical parameters and state");
    let losses = |d: &Path| -> Vec<String> {
        std::fs::read_to_string(d.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].to_string())
            .collect()
    };
    assert_eq!(losses(&straight), losses(&split), "identical losses step by step");
}
