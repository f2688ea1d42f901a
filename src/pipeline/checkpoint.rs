//! Checkpoints: every tensor in one safetensors file plus a JSON manifest (format version, config,
//! tokenizer, step, seed, data position, checksum). Files are written atomically (temporary file,
//! fsync, rename; the manifest last); loading verifies the version, the checksum and every shape,
//! and refuses a corrupt or mismatched checkpoint with a clear error.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::ModelConfig;
use crate::error::{NeuroError, Result};
use crate::model::{AdamState, FixedFanout, HostParams};
use crate::orchestrator::Snapshot;
use crate::pipeline::tokenizer::{Tokenizer, TokenizerSpec};

pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
const TENSORS: &str = "tensors.safetensors";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub config: ModelConfig,
    pub tokenizer: TokenizerSpec,
    /// Train steps applied to the model (replays included).
    pub step: u64,
    /// Training-loop steps (batches of data) taken; replays excluded.
    pub train_steps: u64,
    pub seed: u64,
    /// Training sequences consumed so far (where a resumed run continues).
    pub data_position: u64,
    pub tensors: String,
    pub tensors_sha256: String,
    pub tensors_bytes: u64,
    /// SHA-256 of the `tokenizer.json` beside the manifest, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_sha256: Option<String>,
    /// The training run that wrote the checkpoint: what `--resume` continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
}

/// The settings and totals of a training run, so that a resumed run continues the same run:
/// resuming with different data or shapes is refused, and counters go on from here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The `--data` argument as given.
    pub data: String,
    /// The `--held-out` corpus, when the held-out split is its own corpus.
    #[serde(default)]
    pub held_out: Option<String>,
    pub batch: usize,
    pub seq_len: usize,
    pub held_out_every: usize,
    pub max_sequences: usize,
    /// Tokens trained on so far.
    pub tokens: u64,
    /// Seconds of training so far.
    pub seconds: f64,
}

/// Where training stands when a checkpoint is written.
pub struct Progress<'a> {
    pub seed: u64,
    /// Training-loop steps taken.
    pub train_steps: u64,
    /// Training sequences consumed.
    pub data_position: u64,
    /// The trainer's replay buffer: (reward, sequence).
    pub replay: &'a [(f64, Vec<u32>)],
    pub run: Option<RunRecord>,
}

/// A loaded checkpoint.
pub struct Checkpoint {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub snapshot: Snapshot,
    /// The trainer's replay buffer: (reward, sequence).
    pub replay: Vec<(f64, Vec<u32>)>,
    pub tokenizer: Tokenizer,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checkpoint({}, step {})", self.dir.display(), self.manifest.step)
    }
}

fn bad(dir: &Path, msg: impl std::fmt::Display) -> NeuroError {
    NeuroError::InvalidInput(format!("checkpoint {}: {msg}", dir.display()))
}

fn io(path: &Path, e: std::io::Error) -> NeuroError {
    NeuroError::InvalidInput(format!("{}: {e}", path.display()))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn bytes_of<T: bytemuck::Pod>(x: &[T]) -> Vec<u8> {
    bytemuck::cast_slice(x).to_vec()
}

struct Tensors {
    entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
}

impl Tensors {
    fn add<T: bytemuck::Pod>(&mut self, name: impl Into<String>, dtype: Dtype, shape: Vec<usize>, data: &[T]) {
        self.entries.push((name.into(), dtype, shape, bytes_of(data)));
    }
}

/// Saves a checkpoint into `dir` (created if needed).
pub fn save(dir: &Path, snapshot: &Snapshot, config: &ModelConfig, tokenizer: &Tokenizer, at: &Progress) -> Result<()> {
    let replay = at.replay;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let p = &snapshot.params;
    let mut t = Tensors { entries: Vec::new() };
    t.add("emb", Dtype::F32, vec![config.vocab, config.embed], &p.emb);
    for (m, (w, th)) in p.recurrent.iter().zip(&p.theta).enumerate() {
        t.add(format!("module.{m}.w_idx"), Dtype::U32, vec![w.rows, w.fanout], &w.idx);
        t.add(format!("module.{m}.w_val"), Dtype::F32, vec![w.rows, w.fanout], &w.val);
        t.add(format!("module.{m}.theta"), Dtype::F32, vec![th.len()], th);
        t.add(format!("module.{m}.activity"), Dtype::U32, vec![th.len()], &snapshot.activity[m]);
    }
    for (c, pr) in p.projections.iter().enumerate() {
        t.add(format!("proj.{c}.idx"), Dtype::U32, vec![pr.rows, pr.fanout], &pr.idx);
        t.add(format!("proj.{c}.val"), Dtype::F32, vec![pr.rows, pr.fanout], &pr.val);
    }
    t.add("gains", Dtype::F32, vec![p.gains.len()], &p.gains);
    t.add("dec_w", Dtype::F32, vec![config.vocab, config.decoder_width()], &p.dec_w);
    t.add("dec_b", Dtype::F32, vec![config.vocab], &p.dec_b);
    if let Some(a) = &p.adam {
        let shape = vec![config.vocab, config.decoder_width()];
        t.add("adam.m_w", Dtype::F32, shape.clone(), &a.m_w);
        t.add("adam.v_w", Dtype::F32, shape, &a.v_w);
        t.add("adam.m_b", Dtype::F32, vec![config.vocab], &a.m_b);
        t.add("adam.v_b", Dtype::F32, vec![config.vocab], &a.v_b);
    }
    if let Some((batch, nm, rb)) = &snapshot.slots {
        t.add("slots.neuromod", Dtype::F32, vec![*batch, nm.len() / batch.max(&1)], nm);
        t.add("slots.rbar", Dtype::F32, vec![*batch], rb);
    }
    if !replay.is_empty() {
        let width = replay.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
        let mut ids = vec![config.pad; replay.len() * width];
        for (i, (_, s)) in replay.iter().enumerate() {
            ids[i * width..i * width + s.len()].copy_from_slice(s);
        }
        let lens: Vec<u32> = replay.iter().map(|(_, s)| s.len() as u32).collect();
        let rewards: Vec<f64> = replay.iter().map(|(r, _)| *r).collect();
        t.add("replay.tokens", Dtype::U32, vec![replay.len(), width], &ids);
        t.add("replay.lens", Dtype::U32, vec![replay.len()], &lens);
        t.add("replay.rewards", Dtype::F64, vec![replay.len()], &rewards);
    }
    let views: Vec<(String, TensorView)> = t
        .entries
        .iter()
        .map(|(n, d, s, b)| TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(dir, format!("building tensors: {e}")))?;
    let blob = safetensors::serialize(views, None).map_err(|e| bad(dir, format!("serialising: {e}")))?;
    write_atomic(&dir.join(TENSORS), &blob)?;
    let tokenizer_sha256 = match tokenizer.json() {
        Some(json) => {
            write_atomic(&dir.join("tokenizer.json"), json.as_bytes())?;
            Some(hex(&Sha256::digest(json.as_bytes())))
        }
        None => None,
    };
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        config: config.clone(),
        tokenizer: tokenizer.spec(),
        step: snapshot.steps,
        train_steps: at.train_steps,
        seed: at.seed,
        data_position: at.data_position,
        tensors: TENSORS.into(),
        tensors_sha256: hex(&Sha256::digest(&blob)),
        tensors_bytes: blob.len() as u64,
        tokenizer_sha256,
        run: at.run.clone(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| bad(dir, e))?;
    write_atomic(&dir.join(MANIFEST), &json)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A checkpoint directory, or the run directory holding checkpoints (its latest one).
pub fn locate(path: &Path) -> Result<PathBuf> {
    if !path.exists() {
        return Err(bad(path, "does not exist"));
    }
    if !path.is_dir() {
        return Err(bad(path, "is a file; a checkpoint is a directory (or a run directory holding checkpoints/)"));
    }
    if path.join(MANIFEST).is_file() {
        return Ok(path.to_path_buf());
    }
    let ckpts = path.join("checkpoints");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&ckpts)
        .map_err(|_| bad(path, "holds no manifest.json and no checkpoints/ directory"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(MANIFEST).is_file())
        .collect();
    found.sort();
    found.pop().ok_or_else(|| bad(path, "checkpoints/ holds no complete checkpoint"))
}

/// Loads and verifies a checkpoint (or the latest one of a run directory).
pub fn load(path: &Path) -> Result<Checkpoint> {
    let dir = locate(path)?;
    let mtext = std::fs::read_to_string(dir.join(MANIFEST)).map_err(|e| io(&dir.join(MANIFEST), e))?;
    let manifest: Manifest = serde_json::from_str(&mtext).map_err(|e| bad(&dir, format!("corrupt manifest: {e}")))?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(bad(
            &dir,
            format!("format version {} (this build reads {FORMAT_VERSION})", manifest.format_version),
        ));
    }
    manifest.config.validate()?;
    let blob = std::fs::read(dir.join(&manifest.tensors)).map_err(|e| io(&dir.join(&manifest.tensors), e))?;
    if blob.len() as u64 != manifest.tensors_bytes || hex(&Sha256::digest(&blob)) != manifest.tensors_sha256 {
        return Err(bad(&dir, "tensor file does not match its checksum (corrupt or replaced)"));
    }
    let st = SafeTensors::deserialize(&blob).map_err(|e| bad(&dir, format!("corrupt tensor file: {e}")))?;
    let cfg = &manifest.config;
    let get = |name: &str, dtype: Dtype, shape: &[usize]| -> Result<Vec<u8>> {
        let t = st.tensor(name).map_err(|_| bad(&dir, format!("missing tensor {name}")))?;
        if t.dtype() != dtype || t.shape() != shape {
            return Err(bad(
                &dir,
                format!("tensor {name} is {:?} {:?}, the config needs {dtype:?} {shape:?}", t.dtype(), t.shape()),
            ));
        }
        Ok(t.data().to_vec())
    };
    let f32s = |b: Vec<u8>| -> Vec<f32> { bytemuck::pod_collect_to_vec(&b) };
    let u32s = |b: Vec<u8>| -> Vec<u32> { bytemuck::pod_collect_to_vec(&b) };
    let (v, e, d) = (cfg.vocab, cfg.embed, cfg.decoder_width());
    let mut recurrent = Vec::new();
    let mut theta = Vec::new();
    let mut activity = Vec::new();
    for (m, mc) in cfg.modules.iter().enumerate() {
        let shape = [mc.n, mc.fanout];
        recurrent.push(FixedFanout {
            rows: mc.n,
            fanout: mc.fanout,
            idx: u32s(get(&format!("module.{m}.w_idx"), Dtype::U32, &shape)?),
            val: f32s(get(&format!("module.{m}.w_val"), Dtype::F32, &shape)?),
        });
        theta.push(f32s(get(&format!("module.{m}.theta"), Dtype::F32, &[mc.n])?));
        activity.push(u32s(get(&format!("module.{m}.activity"), Dtype::U32, &[mc.n])?));
    }
    let fan = cfg.init.projection_fanout;
    let mut projections = Vec::new();
    for (c, cc) in cfg.connections.iter().enumerate() {
        let rows = cfg.module(cc.target).inputs;
        projections.push(FixedFanout {
            rows,
            fanout: fan,
            idx: u32s(get(&format!("proj.{c}.idx"), Dtype::U32, &[rows, fan])?),
            val: f32s(get(&format!("proj.{c}.val"), Dtype::F32, &[rows, fan])?),
        });
    }
    // A checksum proves the file is the one written, not that it is sound: every index is
    // range-checked and every parameter must be finite before anything reaches a device.
    for (w, mc) in recurrent.iter().zip(&cfg.modules) {
        if let Some(&j) = w.idx.iter().find(|&&j| j as usize >= mc.n) {
            return Err(bad(&dir, format!("{} has a synapse index {j}, out of range 0..{}", mc.id.name(), mc.n)));
        }
    }
    for (c, (pr, cc)) in projections.iter().zip(&cfg.connections).enumerate() {
        let width = cfg.source_width(cc.source);
        if let Some(&j) = pr.idx.iter().find(|&&j| j as usize >= width) {
            return Err(bad(&dir, format!("projection {c} has a source index {j}, out of range 0..{width}")));
        }
    }
    let names: HashMap<String, ()> = st.names().into_iter().map(|n| (n.to_string(), ())).collect();
    // Adam's moments, when the checkpoint has them (one written with SGD starts Adam from zero).
    let adam = if names.contains_key("adam.m_w") {
        Some(AdamState {
            m_w: f32s(get("adam.m_w", Dtype::F32, &[v, d])?),
            v_w: f32s(get("adam.v_w", Dtype::F32, &[v, d])?),
            m_b: f32s(get("adam.m_b", Dtype::F32, &[v])?),
            v_b: f32s(get("adam.v_b", Dtype::F32, &[v])?),
        })
    } else {
        None
    };
    let params = HostParams {
        emb: f32s(get("emb", Dtype::F32, &[v, e])?),
        recurrent,
        theta,
        projections,
        gains: f32s(get("gains", Dtype::F32, &[cfg.connections.len()])?),
        dec_w: f32s(get("dec_w", Dtype::F32, &[v, d])?),
        dec_b: f32s(get("dec_b", Dtype::F32, &[v])?),
        adam,
    };
    let finite = |name: &str, x: &[f32]| match x.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(bad(&dir, format!("tensor {name} holds a non-finite value ({}) at {i}", x[i]))),
        None => Ok(()),
    };
    finite("emb", &params.emb)?;
    finite("gains", &params.gains)?;
    finite("dec_w", &params.dec_w)?;
    finite("dec_b", &params.dec_b)?;
    if let Some(a) = &params.adam {
        for (name, x) in [("adam.m_w", &a.m_w), ("adam.v_w", &a.v_w), ("adam.m_b", &a.m_b), ("adam.v_b", &a.v_b)] {
            finite(name, x)?;
        }
    }
    for (m, (w, th)) in params.recurrent.iter().zip(&params.theta).enumerate() {
        finite(&format!("module.{m}.w_val"), &w.val)?;
        finite(&format!("module.{m}.theta"), th)?;
    }
    for (c, pr) in params.projections.iter().enumerate() {
        finite(&format!("proj.{c}.val"), &pr.val)?;
    }
    let slots = if names.contains_key("slots.rbar") {
        let shape = st.tensor("slots.rbar").map_err(|e| bad(&dir, e))?.shape().to_vec();
        let &[batch] = shape.as_slice() else { return Err(bad(&dir, "tensor slots.rbar is not a vector")) };
        let nm = f32s(get("slots.neuromod", Dtype::F32, &[batch, 2 * crate::config::NUM_MODULES])?);
        let rbar = f32s(get("slots.rbar", Dtype::F32, &[batch])?);
        finite("slots.neuromod", &nm)?;
        finite("slots.rbar", &rbar)?;
        Some((batch, nm, rbar))
    } else {
        None
    };
    let mut replay = Vec::new();
    if names.contains_key("replay.lens") {
        let tokens = st.tensor("replay.tokens").map_err(|e| bad(&dir, e))?;
        if tokens.dtype() != Dtype::U32 || tokens.shape().len() != 2 {
            return Err(bad(&dir, "tensor replay.tokens is not a U32 matrix"));
        }
        let (n, width) = (tokens.shape()[0], tokens.shape()[1]);
        let ids = u32s(tokens.data().to_vec());
        let lens = u32s(get("replay.lens", Dtype::U32, &[n])?);
        let rewards: Vec<f64> = bytemuck::pod_collect_to_vec(&get("replay.rewards", Dtype::F64, &[n])?);
        if let Some(&t) = ids.iter().find(|&&t| t as usize >= cfg.vocab) {
            return Err(bad(
                &dir,
                format!("the replay buffer holds token {t}, outside the vocabulary (V = {})", cfg.vocab),
            ));
        }
        for i in 0..n {
            let len = lens[i] as usize;
            if len > width || len < 2 || !rewards[i].is_finite() {
                return Err(bad(
                    &dir,
                    format!("replay entry {i} has length {len} of {width} or reward {}", rewards[i]),
                ));
            }
            replay.push((rewards[i], ids[i * width..i * width + len].to_vec()));
        }
    }
    if let TokenizerSpec::File { file } = &manifest.tokenizer {
        let path = dir.join(file);
        let text = std::fs::read(&path).map_err(|e| io(&path, e))?;
        match &manifest.tokenizer_sha256 {
            Some(sum) if *sum == hex(&Sha256::digest(&text)) => {}
            Some(_) => return Err(bad(&dir, format!("{file} does not match its checksum (corrupt or replaced)"))),
            None => return Err(bad(&dir, format!("{file} has no checksum in the manifest"))),
        }
    }
    let tokenizer = Tokenizer::from_spec(&manifest.tokenizer, &dir)?;
    if tokenizer.vocab_size() != cfg.vocab {
        return Err(bad(&dir, format!("tokenizer has {} tokens, the model {}", tokenizer.vocab_size(), cfg.vocab)));
    }
    let snapshot = Snapshot { params, activity, slots, steps: manifest.step };
    Ok(Checkpoint { dir, manifest, snapshot, replay, tokenizer })
}
