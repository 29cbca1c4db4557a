//! What one video frame costs the native engine on its way to the page, as
//! JPEG (what `native::frames` sends) and as raw RGBA (the alternative):
//! CPU time per frame in the shell and bytes per frame on the loopback
//! WebSocket, for a moving 640×480 picture (`videotestsrc pattern=ball`, mostly flat) and
//! noise (`pattern=snow`, JPEG's worst case)
//! through the same conversion the engine uses. Prints figures; asserts
//! nothing. `cargo bench -p peercall --bench frames`.

#[cfg(target_os = "linux")]
fn main() {
    use gst::prelude::*;

    const FRAMES: u32 = 600;

    /// User + system CPU time of this process so far, in seconds.
    fn cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .expect("comm")
            .1
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 (11 and 12 after the comm).
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }

    gst::init().expect("GStreamer");
    for pattern in ["ball", "snow"] {
        println!("{FRAMES} frames of 640x480 (videotestsrc pattern={pattern}), converted as the engine does:");
        for (name, tail) in [
        ("source only (baseline)", "fakesink sync=false"),
        (
            "JPEG q80 (what the engine sends)",
            "videoconvert ! videoscale ! video/x-raw,width=640,height=480 ! jpegenc quality=80 ! appsink name=out sync=false",
        ),
        (
            "raw RGBA",
            "videoconvert ! videoscale ! video/x-raw,format=RGBA,width=640,height=480 ! appsink name=out sync=false",
        ),
    ] {
        let description = format!(
            "videotestsrc pattern={pattern} num-buffers={FRAMES} ! video/x-raw,format=I420,width=640,height=480,framerate=30/1 ! {tail}"
        );
        let pipeline = gst::parse::launch(&description)
            .expect("pipeline")
            .downcast::<gst::Pipeline>()
            .expect("a pipeline");
        let bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        if let Some(sink) = pipeline
            .by_name("out")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        {
            let counted = std::sync::Arc::clone(&bytes);
            sink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        let size = sample.buffer().map_or(0, |b| b.size());
                        counted.fetch_add(size as u64, std::sync::atomic::Ordering::Relaxed);
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
        let before = cpu_seconds();
        let started = std::time::Instant::now();
        pipeline.set_state(gst::State::Playing).expect("playing");
        let bus = pipeline.bus().expect("bus");
        bus.timed_pop_filtered(gst::ClockTime::NONE, &[gst::MessageType::Eos, gst::MessageType::Error]);
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - before;
        pipeline.set_state(gst::State::Null).expect("null");
        let per_frame = bytes.load(std::sync::atomic::Ordering::Relaxed) as f64 / f64::from(FRAMES);
        println!(
            "  {name:<34} CPU {:>5.2} ms/frame  ({:>4.1} % of a core at 30 fps)  {:>8.1} KiB/frame  {:>6.2} MiB/s at 30 fps  (wall {wall:.2} s)",
            cpu * 1000.0 / f64::from(FRAMES),
            cpu * 1000.0 / f64::from(FRAMES) * 30.0 / 10.0,
            per_frame / 1024.0,
            per_frame * 30.0 / (1024.0 * 1024.0),
        );
    }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("the native engine is Linux only");
}
