//! What a newcomer and an adversarial tester found (issue 10), one test each: every one failed
//! before its fix (a panic, an abort, a hang, a silent mix-up or a misleading message).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use neurogen::model::HostParams;
use neurogen::pipeline::checkpoint;
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::{Engine, GenerateOptions, ModelConfig, Preset, SamplingRule, Tokenizer, MAX_GENERATE, MAX_SEQUENCE};
use sha2::{Digest, Sha256};

/// A small English corpus: enough lines for a few training steps of short sequences.
fn corpus(dir: &Path) -> PathBuf {
    let text = "the cat sat on the mat and looked at the moon.\nmy friend reads a book by the river at night.\n\
                a dog runs after the ball in the garden today.\n"
        .repeat(20);
    let p = dir.join("corpus.txt");
    std::fs::write(&p, text).unwrap();
    p
}

/// `neurogen --backend cpu train` into `out` with short sequences, plus `extra` flags.
fn train(data: &Path, out: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "--backend",
        "cpu",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--batch",
        "2",
        "--seq-len",
        "16",
        "--json",
    ];
    args.extend_from_slice(extra);
    neurogen(&args)
}

fn metrics(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Rewrites tensor `name` of a checkpoint with `edit`, then fixes the manifest's checksum: a
/// file that is exactly what a writer meant, only wrong.
fn rewrite_tensor(dir: &Path, name: &str, edit: impl FnOnce(&mut [u8])) {
    let blob = std::fs::read(dir.join("tensors.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&blob).unwrap();
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> =
        st.tensors().into_iter().map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec())).collect();
    let t = owned.iter_mut().find(|t| t.0 == name).expect("tensor exists");
    edit(&mut t.3);
    let views: Vec<(String, safetensors::tensor::TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let blob = safetensors::serialize(views, None).unwrap();
    std::fs::write(dir.join("tensors.safetensors"), &blob).unwrap();
    let path = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    m["tensors_sha256"] = hex(&Sha256::digest(&blob)).into();
    m["tensors_bytes"] = blob.len().into();
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

fn copy_checkpoint(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

#[test]
fn a_checkpoint_with_a_valid_checksum_but_bad_values_is_refused_on_load() {
    let d = temp_dir("bad-values");
    let run = d.join("run");
    let (ok, _, err) = train(&corpus(&d), &run, &["--steps", "2"]);
    assert!(ok, "{err}");
    let ck = checkpoint::load(&run).unwrap().dir;

    // An out-of-range projection index: it used to panic in the CPU backend (index out of bounds).
    let c = d.join("proj");
    copy_checkpoint(&ck, &c);
    rewrite_tensor(&c, "proj.0.idx", |b| b[..4].copy_from_slice(&1_000_000u32.to_le_bytes()));
    let e = checkpoint::load(&c).unwrap_err().to_string();
    assert!(e.contains("projection 0") && e.contains("out of range"), "{e}");
    for cmd in [&["generate", "--prompt", "x"][..], &["evaluate", "--data", d.join("corpus.txt").to_str().unwrap()]] {
        let mut args = vec!["--backend", "cpu"];
        args.extend_from_slice(cmd);
        args.extend_from_slice(&["--checkpoint", c.to_str().unwrap()]);
        let out = Command::new(binary()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "a clear error, not a panic: {err}");
        assert!(err.contains("out of range") && !err.contains("panicked"), "{err}");
    }
    let (ok, _, err) = neurogen(&[
        "--backend",
        "cpu",
        "train",
        "--resume",
        c.to_str().unwrap(),
        "--out",
        d.join("r").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("out of range") && !err.contains("panicked"), "{err}");

    // A NaN parameter used to load and generate `''''`.
    let c = d.join("nan");
    copy_checkpoint(&ck, &c);
    rewrite_tensor(&c, "dec_b", |b| b[..4].copy_from_slice(&f32::NAN.to_le_bytes()));
    let e = checkpoint::load(&c).unwrap_err().to_string();
    assert!(e.contains("dec_b") && e.contains("non-finite"), "{e}");
    // A replayed token outside the vocabulary.
    let c = d.join("replay");
    copy_checkpoint(&ck, &c);
    rewrite_tensor(&c, "replay.tokens", |b| b[..4].copy_from_slice(&9999u32.to_le_bytes()));
    let e = checkpoint::load(&c).unwrap_err().to_string();
    assert!(e.contains("replay") && e.contains("vocabulary"), "{e}");
}

#[test]
fn a_huge_vocabulary_is_refused_before_any_allocation() {
    // The decoder alone would need hundreds of GiB: an error, not an abort (rc 134).
    for cmd in [&["generate", "--prompt", "x"][..], &["bench", "--tokens", "1"]] {
        let mut args = vec!["--backend", "cpu", "--preset", "seed", "--vocab", "16777216"];
        args.extend_from_slice(cmd);
        let out = Command::new(binary()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("host memory") && err.contains("GiB"), "{err}");
    }
    let (ok, out, err) = neurogen(&["--backend", "cpu", "--preset", "seed", "--vocab", "16777216", "info", "--json"]);
    assert!(ok, "{err}");
    let v = json_line(&out);
    assert_eq!(v["fits"], false, "info must not say it fits: {v}");
    assert!(v["host_estimate_bytes_b1"].as_u64().unwrap() > 100 << 30, "{v}");
}

#[test]
fn a_single_long_document_loads_in_linear_time_and_stops_at_max_sequences() {
    let d = temp_dir("long-doc");
    let p = d.join("one-line.txt");
    // 8 MB on one line took 165 s (each packed sequence moved the whole rest of the document).
    let line = "the spiking brain reads one very long document without a break ".repeat(8 << 20 >> 6);
    std::fs::write(&p, &line).unwrap();
    let start = Instant::now();
    let (packer, _) = corpus::load(vec![p.clone()], &Tokenizer::bytes(), 64, 20, 1_000_000, OnBadData::Refuse).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let packed: usize = packer.train.iter().chain(&packer.held_out).map(|s| s.len() - 1).sum();
    assert_eq!(packed, line.len() + 1, "every byte and the EOS packed once");
    assert!(secs < 30.0, "8 MB in one line took {secs:.1} s");
    // `max_sequences` holds inside a document, not only between documents.
    let (packer, _) = corpus::load(vec![p], &Tokenizer::bytes(), 64, 0, 1000, OnBadData::Refuse).unwrap();
    assert_eq!(packer.train.len(), 1000);
}

/// A tiny model whose decoder always (`eos_bias` > 0) or never (< 0) picks EOS.
fn eos_engine(eos_bias: f32) -> Engine {
    let cfg = ModelConfig::preset(Preset::Tiny);
    let mut p = HostParams::init(&cfg, 1);
    p.dec_b[cfg.eos as usize] = eos_bias;
    Engine::with_params(cpu(), cfg, &p).unwrap()
}

#[test]
fn generate_is_bounded_per_call_and_stops_when_every_sequence_is_done() {
    let greedy = GenerateOptions {
        max_new: MAX_GENERATE,
        rule: SamplingRule { greedy: true, temperature: 1.0, top_k: 0, top_p: 1.0 },
        seed: 0,
    };
    // Every sequence emits EOS at once: one segment, however large max_new is (this used to
    // record max_new tokens into one call and grow memory until the OS killed it).
    let mut eng = eos_engine(1e4);
    let start = Instant::now();
    let out = eng.generate(&[vec![256, 104], vec![256]], &greedy).unwrap();
    assert!(out.tokens.iter().all(|t| t == &[257]), "{:?}", out.tokens);
    assert_eq!(out.stats.host_syncs, 1);
    assert!(start.elapsed() < Duration::from_secs(60));
    // Longer than a segment: segments of one submission each, and the first segment is exactly
    // the generation that stops there.
    let mut eng = eos_engine(-1e4);
    let n = neurogen::GENERATE_SEGMENT + 37;
    let long = eng.generate(&[vec![256, 104]], &GenerateOptions { max_new: n, ..greedy }).unwrap();
    assert_eq!(long.tokens[0].len(), n);
    assert_eq!(long.stats.host_syncs, 2, "two segments");
    let first =
        eng.generate(&[vec![256, 104]], &GenerateOptions { max_new: neurogen::GENERATE_SEGMENT, ..greedy }).unwrap();
    assert_eq!(first.tokens[0][..], long.tokens[0][..neurogen::GENERATE_SEGMENT]);
    // Sizes that cannot be bounded are refused with the limit in the message.
    let e = eng.generate(&[vec![256]], &GenerateOptions { max_new: MAX_GENERATE + 1, ..greedy }).unwrap_err();
    assert!(e.to_string().contains(&MAX_GENERATE.to_string()), "{e}");
    let e = eng.evaluate(&[vec![65; MAX_SEQUENCE + 1]]).unwrap_err();
    assert!(e.to_string().contains(&MAX_SEQUENCE.to_string()), "{e}");
    let (ok, _, err) = neurogen(&["--backend", "cpu", "generate", "--prompt", "x", "--max-new", "100000000"]);
    assert!(!ok && err.contains(&MAX_GENERATE.to_string()), "{err}");
    let d = temp_dir("seq-len");
    let data = corpus(&d);
    let (ok, _, err) = neurogen(&[
        "--backend",
        "cpu",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--seq-len",
        "100000000",
        "--out",
        "/nonexistent/r",
    ]);
    assert!(!ok && err.contains(&MAX_SEQUENCE.to_string()), "{err}");
    let (ok, _, err) =
        neurogen(&["--backend", "cpu", "evaluate", "--data", data.to_str().unwrap(), "--seq-len", "100000000"]);
    assert!(!ok && err.contains(&MAX_SEQUENCE.to_string()), "{err}");
}

#[test]
fn the_tokenizer_trains_on_the_text_of_a_jsonl_zst_corpus() {
    let d = temp_dir("tok-zst");
    let p = d.join("docs.jsonl.zst");
    let mut enc = zstd::Encoder::new(std::fs::File::create(&p).unwrap(), 3).unwrap();
    for i in 0..300 {
        let doc = serde_json::json!({"text": format!("the river runs past garden {i} every morning"), "meta": {"source": "test"}});
        writeln!(enc, "{doc}").unwrap();
    }
    enc.finish().unwrap();
    let out = d.join("tokenizer.json");
    let (ok, _, err) = neurogen(&[
        "tokenizer",
        "train",
        "--data",
        p.to_str().unwrap(),
        "--vocab",
        "400",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let tok: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let vocab = tok["model"]["vocab"].as_object().unwrap();
    assert!(vocab.keys().any(|t| t.contains("river")), "it learned the text");
    // Single characters are the byte alphabet every byte-level BPE starts with; merges are learned.
    for t in vocab.keys().filter(|t| t.chars().count() > 1) {
        for syntax in ["text", "meta", "source", "\"", "{", "}"] {
            assert!(!t.contains(syntax), "JSON syntax {syntax:?} in the vocabulary: {t:?}");
        }
    }
    // Model flags do not apply to the tokenizer, and its --vocab is its own.
    let (ok, _, err) =
        neurogen(&["--preset", "small", "tokenizer", "train", "--data", "x", "--vocab", "300", "--out", "y"]);
    assert!(!ok && err.contains("--preset"), "{err}");
    let (_, help, _) = neurogen(&["tokenizer", "train", "--help"]);
    assert!(!help.contains("--backend") && !help.contains("--preset"), "{help}");
}

#[test]
fn a_run_directory_is_never_mixed_with_another_run() {
    let d = temp_dir("mixed");
    let data = corpus(&d);
    let run = d.join("run");
    let (ok, _, err) = train(&data, &run, &["--steps", "3"]);
    assert!(ok, "{err}");
    let (ok, _, err) = train(&data, &run, &["--steps", "2"]);
    assert!(!ok && err.contains("already holds a run") && err.contains("--resume"), "{err}");
    assert_eq!(metrics(&run).len(), 3, "the refused run wrote nothing");
    let (ok, _, err) = train(&data, &run, &["--steps", "2", "--force"]);
    assert!(ok, "{err}");
    let steps: Vec<u64> = metrics(&run).iter().map(|m| m["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, [1, 2], "--force starts anew");
    assert_eq!(checkpoint::load(&run).unwrap().manifest.train_steps, 2);
}

#[test]
fn resume_continues_the_runs_books() {
    let d = temp_dir("books");
    let data = corpus(&d);
    let run = d.join("run");
    let (ok, _, err) = train(&data, &run, &["--steps", "4", "--checkpoint-every", "2", "--sample-every", "2"]);
    assert!(ok, "{err}");
    // A crash after step 3: step 4's checkpoint never happened, its metrics line did.
    std::fs::remove_dir_all(run.join("checkpoints/step-00000004")).unwrap();
    let (ok, _, err) = neurogen(&[
        "--backend",
        "cpu",
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--steps",
        "6",
        "--sample-every",
        "2",
        "--json",
    ]);
    assert!(ok, "{err}");
    let m = metrics(&run);
    let steps: Vec<u64> = m.iter().map(|m| m["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, [1, 2, 3, 4, 5, 6], "each step once");
    let tokens: Vec<u64> = m.iter().map(|m| m["tokens"].as_u64().unwrap()).collect();
    assert_eq!(tokens, (1..=6).map(|s| s * 2 * 15).collect::<Vec<_>>(), "tokens count the whole run");
    let secs: Vec<f64> = m.iter().map(|m| m["seconds"].as_f64().unwrap()).collect();
    assert!(secs.windows(2).all(|w| w[1] >= w[0]), "seconds count the whole run: {secs:?}");
    let samples: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("samples.json")).unwrap()).unwrap();
    let sample_steps: Vec<u64> = samples.as_array().unwrap().iter().map(|s| s["step"].as_u64().unwrap()).collect();
    assert_eq!(sample_steps, [2, 4, 6, 6], "the first run's samples are kept (the last is the final sample)");
    // --tokens counts from the start of the run, like --steps: the run is already there.
    let (ok, _, err) =
        neurogen(&["--backend", "cpu", "train", "--resume", run.to_str().unwrap(), "--tokens", "150", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(metrics(&run).len(), 6, "150 tokens were reached at step 5");
    // Settings of the run cannot change on resume, and the checkpoint fixes the model's shape.
    for (flag, value) in [("--batch", "4"), ("--seq-len", "32"), ("--seed", "9"), ("--data", "other.txt")] {
        let (ok, _, err) = neurogen(&["--backend", "cpu", "train", "--resume", run.to_str().unwrap(), flag, value]);
        assert!(!ok && err.contains(flag) && err.contains("differs"), "{flag}: {err}");
    }
    let (ok, _, err) = neurogen(&["--backend", "cpu", "--preset", "small", "train", "--resume", run.to_str().unwrap()]);
    assert!(!ok && err.contains("--preset"), "{err}");
    for (flag, value) in [("--vocab", "999"), ("--ticks-per-token", "3"), ("--preset", "small")] {
        let r = run.to_str().unwrap();
        let (ok, _, err) = neurogen(&["--backend", "cpu", "generate", "--prompt", "x", "--checkpoint", r, flag, value]);
        assert!(!ok && err.contains(flag), "{flag}: {err}");
    }
}

#[test]
fn a_checkpoints_tokenizer_is_covered_by_its_checksum() {
    let d = temp_dir("tok-sum");
    let data = corpus(&d);
    let tok = d.join("tokenizer.json");
    let (ok, _, err) = neurogen(&[
        "tokenizer",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--vocab",
        "300",
        "--out",
        tok.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let run = d.join("run");
    let (ok, _, err) = train(&data, &run, &["--steps", "1", "--tokenizer", tok.to_str().unwrap()]);
    assert!(ok, "{err}");
    let ck = checkpoint::load(&run).unwrap().dir;
    let path = ck.join("tokenizer.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"the\"", "\"teh\"", 1)).unwrap();
    let e = checkpoint::load(&run).unwrap_err().to_string();
    assert!(e.contains("tokenizer.json") && e.contains("checksum"), "{e}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_train_finishes_the_step_and_leaves_a_loadable_checkpoint() {
    let d = temp_dir("sigint");
    let data = corpus(&d);
    let run = d.join("run");
    let mut child = Command::new(binary())
        .args(["--backend", "cpu", "train", "--data", data.to_str().unwrap(), "--out", run.to_str().unwrap()])
        .args(["--batch", "2", "--seq-len", "16", "--steps", "1000000", "--checkpoint-every", "100000", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..3 {
        lines.next().expect("a metrics line").unwrap();
    }
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("--resume"), "it says how to continue: {err}");
    let last = metrics(&run).last().unwrap()["step"].as_u64().unwrap();
    assert!(last >= 3 && rest.len() as u64 == last - 3, "every finished step was logged");
    let ck = checkpoint::load(&run).unwrap();
    assert_eq!(ck.manifest.train_steps, last, "the checkpoint holds the last finished step");
}

#[test]
fn messages_say_what_is_wrong() {
    let d = temp_dir("messages");
    let data = corpus(&d);
    let data = data.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["evaluate", "--data", "/nonexistent/x.txt"], "does not exist"),
        (vec!["evaluate", "--data", "/nonexistent/*.txt"], "matches no file"),
        (vec!["generate", "--prompt", "x", "--checkpoint", "/nonexistent/run"], "does not exist"),
        (vec!["generate", "--prompt", "x", "--checkpoint", data], "is a file"),
        (vec!["train", "--data", data, "--held-out-every", "1", "--out", "/nonexistent/r"], "every sequence"),
        (vec!["train", "--data", data, "--max-sequences", "0", "--out", "/nonexistent/r"], "at least 1"),
        (vec!["generate", "--prompt", "x", "--tokenizer", data], "not a tokenizer.json"),
    ];
    for (args, want) in cases {
        let mut all = vec!["--backend", "cpu"];
        all.extend_from_slice(&args);
        let (ok, _, err) = neurogen(&all);
        assert!(!ok && err.contains(want), "{args:?}: want {want:?} in {err}");
        assert!(!err.contains("tokenizer: tokenizer:"), "a prefix repeated: {err}");
    }
    // A directory of Markdown is not a corpus (help lists .txt, .jsonl and .jsonl.zst).
    let md = d.join("md");
    std::fs::create_dir_all(&md).unwrap();
    std::fs::write(md.join("a.md"), "# notes\nsome text\n").unwrap();
    let (ok, _, err) = neurogen(&["--backend", "cpu", "evaluate", "--data", md.to_str().unwrap()]);
    assert!(!ok && err.contains(".txt, .jsonl or .jsonl.zst"), "{err}");
}

#[test]
fn auto_picks_a_backend_says_which_and_prints_no_driver_noise() {
    let out = Command::new(binary()).args(["info"]).env_remove("XDG_RUNTIME_DIR").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("(--backend auto)"), "the choice is printed: {err}");
    assert!(!err.contains("XDG_RUNTIME_DIR"), "driver noise: {err}");
    // Without a GPU, auto must not pick a software rasteriser over the CPU backend.
    let wgpu = Command::new(binary())
        .args(["--backend", "wgpu", "info", "--json"])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let werr = String::from_utf8_lossy(&wgpu.stderr);
    assert!(!werr.contains("XDG_RUNTIME_DIR"), "driver noise: {werr}");
    if wgpu.status.success() {
        let device = json_line(&String::from_utf8_lossy(&wgpu.stdout))["device"].as_str().unwrap().to_lowercase();
        if device.contains("llvmpipe") || device.contains("lavapipe") {
            assert!(err.contains("backend: cpu") || err.contains("backend: cuda"), "{err}");
        }
    }
}

#[test]
fn chat_edits_lines_and_an_empty_line_does_not_quit() {
    let history = temp_dir("chat").join("history");
    let mut child = Command::new(binary())
        .args(["--backend", "cpu", "chat", "--max-new", "3", "--history", history.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"first\n\nsecond\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("first") && text.contains("second"), "both prompts were continued: {text}");
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(kept.contains("first") && kept.contains("second"), "history is kept: {kept}");
}

#[test]
fn every_chart_line_stays_inside_its_axes_with_a_moving_average() {
    use neurogen::pipeline::charts::{moving_average, render_rgb, SERIES_COLORS};
    let raw: Vec<(f64, f64)> = (0..200)
        .map(|i| {
            (
                i as f64,
                if i == 50 {
                    f64::INFINITY
                } else if i == 120 {
                    f64::NAN
                } else {
                    5.0 - i as f64 / 100.0
                },
            )
        })
        .collect();
    let avg = moving_average(&raw, 10);
    assert_eq!(avg.len(), 198, "non-finite points are skipped");
    assert!((avg[20].1 - (5.0 - 0.155)).abs() < 1e-9, "{:?}", avg[20]);
    let (rgb, xs, ys) = render_rgb("loss", &[("loss", raw), ("moving average", avg)]).unwrap();
    let (w, _) = neurogen::pipeline::charts::CHART_SIZE;
    let mut outside = 0;
    for (i, px) in rgb.chunks(3).enumerate() {
        let (x, y) = ((i as u32 % w) as i32, (i as u32 / w) as i32);
        let series = SERIES_COLORS[..2].iter().any(|c| (px[0], px[1], px[2]) == *c);
        // The legend box sits inside the plotting area; a series pixel on or beyond the axes (a
        // 2-pixel band at the plot's edge) is a line drawn outside them.
        let inside = (xs.start + 2..xs.end - 2).contains(&x) && (ys.start + 2..ys.end - 2).contains(&y);
        if series && !inside {
            outside += 1;
        }
    }
    assert_eq!(outside, 0, "series pixels outside the axes");
}
