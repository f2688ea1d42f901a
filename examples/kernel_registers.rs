//! Registers per thread, static shared memory and resident blocks per multiprocessor of every CUDA
//! kernel (and of each specialization), from NVRTC's own ptxas: no GPU needed, only libnvrtc.
//! What a latency-bound kernel can keep in flight starts here (BENCHMARKS.md, `lif_kwta`).
//!     cargo run --release --example kernel_registers [-- sm_90]
use neurogen::backend::codegen::cuda_source;
use neurogen::backend::cuda::{kernel_resources, nvrtc_available, specialized_source, SPECIALIZATIONS};
use neurogen::backend::OpKind;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let sm = std::env::args().nth(1).unwrap_or_else(|| "sm_90".into());
    if !nvrtc_available() {
        return Err("NVRTC (libnvrtc.so) not found: put the CUDA toolkit's lib64 (or the pip package \
                    nvidia-cuda-nvrtc-cu12's lib) on LD_LIBRARY_PATH"
            .into());
    }
    let kernels = OpKind::ALL.iter().map(|&k| (k.name().to_string(), cuda_source(k)));
    let special = SPECIALIZATIONS.iter().map(|s| (format!("{} ({})", s.kind.name(), s.define), specialized_source(s)));
    println!("{:<34} {:>9} {:>12} {:>15}", "kernel", "registers", "shared bytes", "blocks/SM (9.0)");
    for (name, src) in kernels.chain(special) {
        let r = kernel_resources(&name, &src, &sm)?;
        println!("{name:<34} {:>9} {:>12} {:>15}", r.registers, r.shared_bytes, r.blocks_per_sm_90());
    }
    Ok(())
}
