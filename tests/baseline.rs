//! `neurogen baseline`: byte n-gram baselines from the command line.

mod common;

use common::{json_line, neurogen, temp_dir};

/// A train and a held-out .txt (a document per line) of repetitive text.
fn corpus(name: &str) -> (String, String) {
    let dir = temp_dir(name);
    let line = "the cat sat on the mat. ".repeat(8);
    let train = dir.join("train.txt");
    let held = dir.join("held.txt");
    std::fs::write(&train, format!("{line}\n").repeat(40)).unwrap();
    std::fs::write(&held, format!("{line}\n").repeat(4)).unwrap();
    (train.display().to_string(), held.display().to_string())
}

#[test]
fn baseline_json_reports_every_order_and_higher_orders_win() {
    let (train, held) = corpus("baseline-json");
    let (ok, out, err) = neurogen(&["baseline", "--data", &train, "--held-out", &held, "--order", "3", "--json"]);
    assert!(ok, "{err}");
    let v = json_line(&out);
    assert_eq!(v["train_bytes"], 40 * 8 * 24, "{v}");
    assert_eq!(v["held_out_bytes"], 4 * 8 * 24, "{v}");
    let orders = v["orders"].as_array().expect("orders");
    assert_eq!(orders.len(), 3, "{v}");
    for (i, o) in orders.iter().enumerate() {
        assert_eq!(o["order"], i + 1, "{v}");
        let bpb = o["bits_per_byte"].as_f64().expect("bits_per_byte");
        let acc = o["accuracy"].as_f64().expect("accuracy");
        assert!(bpb.is_finite() && bpb > 0.0, "{v}");
        assert!((0.0..=1.0).contains(&acc), "{v}");
    }
    let bpb = |i: usize| orders[i]["bits_per_byte"].as_f64().unwrap();
    assert!(bpb(2) < 0.5 * bpb(0), "order 3 should beat order 1 by far on repetitive text: {v}");
}

#[test]
fn baseline_text_names_the_sizes_and_every_order() {
    let (train, held) = corpus("baseline-text");
    let (ok, out, err) = neurogen(&["baseline", "--data", &train, "--held-out", &held, "--order", "2"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains("7,680 bytes") && lines[0].contains("768 bytes"), "{out}");
    assert!(lines[1].starts_with("order 1: ") && lines[1].contains("bits/byte, accuracy"), "{out}");
    assert!(lines[2].starts_with("order 2: ") && lines[2].contains("(768 bytes held out)"), "{out}");
}

#[test]
fn baseline_refuses_bad_input() {
    let (train, held) = corpus("baseline-bad");
    for order in ["0", "9"] {
        let (ok, _, err) = neurogen(&["baseline", "--data", &train, "--held-out", &held, "--order", order]);
        assert!(!ok, "--order {order} should fail");
        assert!(err.contains("--order") && err.contains("1 to 8"), "{err}");
    }
    let (ok, _, err) = neurogen(&["baseline", "--data", "/nonexistent/train.txt", "--held-out", &held]);
    assert!(!ok && err.contains("does not exist"), "{err}");
    let empty = temp_dir("baseline-empty").join("empty.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    let (ok, _, err) = neurogen(&["baseline", "--data", &train, "--held-out", &empty.display().to_string()]);
    assert!(!ok && err.contains("held-out split holds no text"), "{err}");
    let (ok, _, err) = neurogen(&["baseline", "--data", &empty.display().to_string(), "--held-out", &held]);
    assert!(!ok && err.contains("training split holds no text"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (ok, _, err) = neurogen(&["--backend", "cpu", "baseline", "--data", &train, "--held-out", &held]);
    assert!(!ok && err.contains("do not apply to `baseline`"), "{err}");
}
