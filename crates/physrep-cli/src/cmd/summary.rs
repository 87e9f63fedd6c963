//! `physrep summary`: a model's layer table (output shapes, parameter counts).

use anyhow::{bail, Context};
use burn::module::Module;
use physrep_nn::{ConvEncoderConfig, ConvPredictorConfig, Cpu};
use serde_json::json;

/// Arguments of `physrep summary`.
#[derive(clap::Args)]
pub struct Args {
    /// Model family (only `jepa` so far).
    #[arg(long, default_value = "jepa")]
    method: String,
    /// Input channels (11 active_matter, 4 shear_flow / rayleigh_benard).
    #[arg(long, default_value_t = 11)]
    channels: usize,
    /// Spatial resolution H = W of the input clips (a multiple of 16).
    #[arg(long, default_value_t = 224)]
    res: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// One row of the table: layer name, output shape (batch 1), parameters.
struct Row {
    name: String,
    shape: Vec<usize>,
    params: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.method != "jepa" {
        bail!("`physrep summary --method {}`: only `jepa` is available", args.method);
    }
    let enc_cfg = ConvEncoderConfig::paper(args.channels);
    let pred_cfg = ConvPredictorConfig::default();
    let dev = Default::default();
    let enc = enc_cfg.init::<Cpu>(&dev).context("building the encoder")?;
    let pred = pred_cfg.init::<Cpu>(&dev).context("building the predictor")?;
    enc.check_input([1, args.channels, enc_cfg.num_frames, args.res, args.res])
        .with_context(|| format!("--res {} for the encoder", args.res))?;

    // Output shapes follow from the config: the stem keeps (T, H, W); each downsample halves them.
    let mut rows = Vec::new();
    let (mut t, mut hw) = (enc_cfg.num_frames, args.res);
    let d = &enc_cfg.dims;
    let last = d.len() - 1;
    rows.push(Row {
        name: "encoder.stem (conv 1×4×4 + LN)".into(),
        shape: vec![1, d[0], t, hw, hw],
        params: enc.stem_conv.num_params() + enc.stem_norm.num_params(),
    });
    for (s, blocks) in enc.stages.iter().enumerate() {
        if s > 0 {
            t /= 2;
            hw /= 2;
            let shape = if s == last { vec![1, d[s], hw, hw] } else { vec![1, d[s], t, hw, hw] };
            rows.push(Row { name: format!("encoder.down{s} (LN + conv 2³/2)"), shape, params: enc.downsample[s - 1].num_params() });
        }
        let kind = if s == last { "2-D" } else { "3-D" };
        let shape = if s == last { vec![1, d[s], hw, hw] } else { vec![1, d[s], t, hw, hw] };
        let params = blocks.iter().map(|b| b.num_params()).sum();
        rows.push(Row { name: format!("encoder.stage{s} ({} × {kind} block)", blocks.len()), shape, params });
    }
    let h = hw;
    let hidden = pred_cfg.hidden;
    rows.push(Row {
        name: "predictor.expand (conv 2×2, pad 1)".into(),
        shape: vec![1, hidden, h + 1, h + 1],
        params: pred.expand.num_params(),
    });
    rows.push(Row { name: "predictor.block (2-D block)".into(), shape: vec![1, hidden, h + 1, h + 1], params: pred.block.num_params() });
    rows.push(Row { name: "predictor.project (conv 2×2)".into(), shape: vec![1, pred_cfg.dim, h, h], params: pred.project.num_params() });

    let (enc_params, pred_params) = (enc.num_params(), pred.num_params());
    if args.json {
        let layers: Vec<_> = rows.iter().map(|r| json!({"name": r.name, "output_shape": r.shape, "params": r.params})).collect();
        let out = json!({
            "method": "jepa",
            "channels": args.channels,
            "res": args.res,
            "frames": enc_cfg.num_frames,
            "tokens": h * h,
            "token_dim": pred_cfg.dim,
            "encoder_params": enc_params,
            "predictor_params": pred_params,
            "total_params": enc_params + pred_params,
            "layers": layers,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "conv JEPA, {} channels, input (B, {}, {}, {res}, {res}) — shapes for B = 1",
        args.channels,
        args.channels,
        enc_cfg.num_frames,
        res = args.res
    );
    println!("{:<40} {:<24} {:>12}", "layer", "output shape", "params");
    for r in &rows {
        println!("{:<40} {:<24} {:>12}", r.name, format!("{:?}", r.shape), group(r.params));
    }
    println!("{:<40} {:<24} {:>12}", "encoder total", "", group(enc_params));
    println!("{:<40} {:<24} {:>12}", "predictor total", "", group(pred_params));
    println!("{:<40} {:<24} {:>12}", "total", format!("{} tokens × {}", h * h, pred_cfg.dim), group(enc_params + pred_params));
    Ok(())
}

/// `2468720` → `2,468,720`.
fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
