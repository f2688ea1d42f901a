//! The command-line contract, end to end on `tiny`.

mod common;

use std::process::Command;

use common::{binary, json_line, neurogen};

#[test]
fn generate_json() {
    for strategy in ["greedy", "temperature", "top-k", "top-p", "top-k-top-p"] {
        let (ok, out, err) = neurogen(&[
            "--backend",
            "cpu",
            "--seed",
            "3",
            "generate",
            "--prompt",
            "Hi",
            "--max-new",
            "6",
            "--strategy",
            strategy,
            "--json",
        ]);
        assert!(ok, "{err}");
        let v = json_line(&out);
        let tokens = v["tokens"].as_array().expect("tokens");
        assert!(!tokens.is_empty() && tokens.len() <= 6, "{v}");
        assert!(tokens.iter().all(|t| t.as_u64().unwrap() < 259));
        assert!(v["text"].is_string());
        assert_eq!(v["host_syncs"], 1);
    }
}

#[test]
fn same_seed_same_text() {
    let args = ["--backend", "cpu", "--seed", "9", "generate", "--prompt", "abc", "--max-new", "12", "--json"];
    assert_eq!(json_line(&neurogen(&args).1)["tokens"], json_line(&neurogen(&args).1)["tokens"]);
}

#[test]
fn bench_json_has_the_contract_fields() {
    let (ok, out, err) =
        neurogen(&["--backend", "cpu", "bench", "--batch", "2", "--tokens", "8", "--repeat", "1", "--json"]);
    assert!(ok, "{err}");
    let v = json_line(&out);
    for key in [
        "backend",
        "device",
        "preset",
        "batch",
        "tokens",
        "seconds",
        "tokens_per_s",
        "host_syncs_per_call",
        "dispatches_per_call",
    ] {
        assert!(!v[key].is_null(), "missing {key} in {v}");
    }
    assert_eq!(v["host_syncs_per_call"], 1);
    assert_eq!(v["batch"], 2);
    assert!(v["tokens_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(v["precision"], "f32");
    assert!(v["profile"].is_null(), "no profile unless asked");
}

#[test]
fn bench_at_bf16_with_a_profile() {
    let args =
        ["--backend", "cpu", "--precision", "bf16", "bench", "--tokens", "8", "--repeat", "1", "--profile", "--json"];
    let (ok, out, err) = neurogen(&args);
    assert!(ok, "{err}");
    let v = json_line(&out);
    assert_eq!(v["precision"], "bf16");
    let profile = v["profile"].as_array().expect("a profile");
    let launches: u64 = profile.iter().map(|k| k["launches"].as_u64().unwrap()).sum();
    assert_eq!(launches, v["dispatches_per_call"].as_u64().unwrap(), "{v}");
    assert!(profile.iter().any(|k| k["name"] == "lif_kwta"));
    // The text form names the kernels; an unknown precision is refused.
    let (ok, out, err) = neurogen(&["--backend", "cpu", "bench", "--tokens", "4", "--repeat", "1", "--profile"]);
    assert!(ok && out.contains("profile of one more call") && out.contains("lif_kwta"), "{out}{err}");
    let (ok, _, err) = neurogen(&["--backend", "cpu", "--precision", "fp8", "info"]);
    assert!(!ok && err.contains("fp8") && !err.contains("panicked"), "{err}");
}

#[test]
fn info_json() {
    let (ok, out, err) = neurogen(&["--backend", "cpu", "--preset", "seed", "--vocab", "32000", "info", "--json"]);
    assert!(ok, "{err}");
    let v = json_line(&out);
    assert_eq!(v["preset"], "seed");
    assert_eq!(v["neurons"], 1_182_720);
    assert!(v["memory_estimate_bytes_b1"].as_u64().unwrap() > 2_000_000_000);
}

/// `--set` reaches any configuration field by its path in `info --json`'s config, and a wrong
/// path, value or range is refused with the field named.
#[test]
fn set_changes_a_config_field() {
    let (ok, out, err) =
        neurogen(&["--backend", "cpu", "--set", "learn.rule=reward", "--set", "modules.3.k=20", "info", "--json"]);
    assert!(ok, "{err}");
    let v = json_line(&out);
    assert_eq!(v["config"]["learn"]["rule"], "reward");
    assert_eq!(v["config"]["modules"][3]["k"], 20);
    for (bad, says) in [
        ("learn.no_such_field=1", "no such field"),
        ("learn.rule=bogus", "bogus"),
        ("decoder_features=[]", "at least one feature"),
        ("modules.1.trace_lambda=1.5", "trace_lambda"),
        ("modules.0.recurrent_strength=-1", "recurrent_strength"),
        ("learn.rule", "FIELD=VALUE"),
    ] {
        let (ok, _, err) = neurogen(&["--backend", "cpu", "--set", bad, "info"]);
        assert!(!ok && err.contains(says), "--set {bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn evaluate_a_file() {
    let dir = std::env::temp_dir().join(format!("neurogen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("text.txt");
    std::fs::write(&path, "the quick brown fox\njumps over the lazy dog\n\n").unwrap();
    let (ok, out, err) = neurogen(&["--backend", "cpu", "evaluate", "--data", path.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let v = json_line(&out);
    assert_eq!(v["positions"], 19 + 23 + 2); // documents joined by EOS after BOS; all but the first token are predicted
    assert!(v["loss"].as_f64().unwrap() > 0.0 && v["perplexity"].as_f64().unwrap() > 1.0);
    let (ok, _, err) = neurogen(&["--backend", "cpu", "evaluate", "--data", "/nonexistent/x.txt"]);
    assert!(!ok && err.contains("/nonexistent/x.txt"), "{err}");
}

#[test]
fn main_job_runs_on_a_preset() {
    let (ok, out, err) = neurogen(&["--backend", "cpu", "--main-seconds", "2"]);
    assert!(ok, "{err}");
    assert!(out.contains("trained") && out.contains("run directory: runs/"), "{out}");
    let dir =
        out.lines().find_map(|l| l.strip_prefix("run directory: ")).unwrap().split(' ').next().unwrap().to_string();
    assert!(std::path::Path::new(&dir).join("charts/loss.png").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
    // Its closing hint is a command the CLI accepts (it printed `--backend Cpu` once).
    let hint = out.lines().find(|l| l.contains("neurogen --backend")).expect("a hint");
    assert!(hint.contains("neurogen --backend cpu train --data"), "{hint}");
    assert!(err.contains("the main job") && err.contains("cpu backend"), "it says what it does: {err}");
}

#[test]
fn cuda_is_reported_clearly_when_unavailable() {
    let (ok, _, err) = neurogen(&["--backend", "cuda", "generate", "--prompt", "x"]);
    if !ok {
        let e = err.to_lowercase();
        assert!(e.contains("nvidia") || e.contains("cuda"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn bad_arguments_are_refused_without_a_panic() {
    for args in [
        vec!["--backend", "cpu", "generate", "--prompt", "x", "--strategy", "temperature", "--temperature", "0"],
        vec!["--backend", "cpu", "generate", "--prompt", "x", "--strategy", "top-p", "--top-p", "2"],
        vec!["--backend", "cpu", "bench", "--batch", "0"],
        vec!["--backend", "cpu", "--vocab", "1", "info"],
    ] {
        let (ok, _, err) = neurogen(&args);
        assert!(!ok, "{args:?} must fail");
        assert!(err.starts_with("error:") && !err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_bad_event_max_batch_is_refused_without_a_panic() {
    let out = Command::new(binary())
        .args(["--backend", "cpu", "bench", "--tokens", "2", "--repeat", "1"])
        .env("NEUROGEN_EVENT_MAX_BATCH", "lots")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("NEUROGEN_EVENT_MAX_BATCH") && !err.contains("panicked"), "{err}");
}

#[test]
fn train_json_and_bench_train() {
    let dir = std::env::temp_dir().join(format!("neurogen-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("corpus.txt");
    std::fs::write(&path, "the cat sat on the mat. ".repeat(20)).unwrap();
    let (ok, out, err) = neurogen(&[
        "--backend",
        "cpu",
        "train",
        "--data",
        path.to_str().unwrap(),
        "--steps",
        "3",
        "--batch",
        "2",
        "--seq-len",
        "17",
        "--rule",
        "eprop",
        "--out",
        dir.join("run").to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    let manifest = std::fs::read_to_string(dir.join("run/checkpoints/step-00000003/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["config"]["learn"]["rule"], "eprop", "--rule reaches the model's config");
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["step"], i as u64 + 1);
        assert_eq!(v["host_syncs_per_call"], 1);
        assert!(v["loss"].as_f64().unwrap() > 0.0 && v["tokens_per_s"].as_f64().unwrap() > 0.0);
        assert!(v["accuracy"].as_f64().unwrap() >= 0.0);
    }
    let (ok, out, err) = neurogen(&[
        "--backend",
        "cpu",
        "bench",
        "--train",
        "--batch",
        "2",
        "--tokens",
        "17",
        "--repeat",
        "1",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v = json_line(&out);
    // The shares come from separately timed calls, so they are checked for range, not sum.
    for k in ["share_forward", "share_decode", "share_plasticity"] {
        assert!((0.0..=1.0).contains(&v[k].as_f64().unwrap()), "{v}");
    }
    assert_eq!(v["host_syncs_per_call"], 1);
}

#[test]
fn pipeline_end_to_end_on_tiny() {
    let dir = std::env::temp_dir().join(format!("neurogen-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.jsonl");
    let lines: Vec<String> =
        (0..60).map(|i| format!("{{\"text\": \"sentence {i}: the cat sat on the mat.\"}}")).collect();
    std::fs::write(&data, lines.join("\n") + "\n{broken\n").unwrap();
    let run = dir.join("run");
    let (d, r) = (data.to_str().unwrap(), run.to_str().unwrap());

    // A BPE tokenizer, then a run with it.
    let tok = dir.join("tokenizer.json");
    let (ok, out, err) =
        neurogen(&["tokenizer", "train", "--data", d, "--vocab", "300", "--out", tok.to_str().unwrap()]);
    assert!(ok && out.contains("wrote"), "{err}");
    let (ok, out, err) = neurogen(&[
        "--backend",
        "cpu",
        "train",
        "--data",
        d,
        "--tokenizer",
        tok.to_str().unwrap(),
        "--steps",
        "4",
        "--batch",
        "2",
        "--seq-len",
        "24",
        "--out",
        r,
        "--checkpoint-every",
        "2",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("skipped"), "the malformed line is reported: {err}");
    assert_eq!(out.lines().count(), 4);
    for f in [
        "metrics.jsonl",
        "samples.json",
        "charts/loss.png",
        "checkpoints/step-00000002/manifest.json",
        "checkpoints/step-00000004/tokenizer.json",
    ] {
        assert!(run.join(f).exists(), "missing {f}");
    }

    // The run directory serves generate, evaluate and chat; resume continues the step count.
    let (ok, out, err) = neurogen(&[
        "--backend",
        "cpu",
        "generate",
        "--checkpoint",
        r,
        "--prompt",
        "the cat",
        "--max-new",
        "5",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(json_line(&out)["tokens"].as_array().unwrap().iter().all(|t| t.as_u64().unwrap() < 300));
    let (ok, out, err) =
        neurogen(&["--backend", "cpu", "evaluate", "--checkpoint", r, "--data", d, "--seq-len", "24", "--json"]);
    assert!(ok, "{err}");
    assert!(json_line(&out)["perplexity"].as_f64().unwrap() > 1.0);
    let (ok, out, err) = neurogen(&[
        "--backend",
        "cpu",
        "train",
        "--data",
        d,
        "--resume",
        r,
        "--steps",
        "6",
        "--batch",
        "2",
        "--seq-len",
        "24",
        "--json",
    ]);
    assert!(ok, "{err}");
    let steps: Vec<u64> =
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, vec![5, 6], "resumed at step 4");
    let mut chat = Command::new(binary())
        .args(["--backend", "cpu", "chat", "--checkpoint", r, "--max-new", "4", "--history"])
        .arg(dir.join("history"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    chat.stdin.take().unwrap().write_all(b"hello brain\nthe mat\n\n").unwrap();
    let o = chat.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("hello brain") && text.contains("the mat"), "{text}");

    // A corrupt checkpoint is refused with a clear error.
    let ck = run.join("checkpoints/step-00000006/tensors.safetensors");
    let mut bytes = std::fs::read(&ck).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&ck, bytes).unwrap();
    let (ok, _, err) = neurogen(&["--backend", "cpu", "generate", "--checkpoint", r, "--prompt", "x"]);
    assert!(!ok && err.contains("checksum") && !err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
