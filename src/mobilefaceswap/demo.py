"""``mfs demo``: a Gradio page on localhost to swap a source face into a photo or video, with
the watermarked result, its ``mfs verify`` report, and a download. Needs ``pip install .[demo]``."""

import os
import shutil
import tempfile
from pathlib import Path

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.media import read_image
from mobilefaceswap.files import IMAGE_SUFFIXES, is_video
from mobilefaceswap.inference.session import open_swap_session
from mobilefaceswap.inference.swap import Swapping, output_for
from mobilefaceswap.provenance.verify import verify_file

# No telemetry, no update check: the demo runs offline.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


class DemoSwapper:
    """One loaded model; each request swaps into a fresh folder under ``out_dir``."""

    def __init__(self, checkpoint: str | Path, out_dir: str | Path, device: str = "auto"):
        session = open_swap_session(checkpoint, device=device)
        self.pipeline, self.provenance = session.pipeline, session.provenance
        self.out_dir = Path(out_dir)

    def __call__(self, source: str | None, target: str | None) -> tuple[Path, dict]:
        """The watermarked output and its verify report, or DataError with one line."""
        if not source or not target:
            raise DataError("upload a source photo and a target photo or video")
        target = Path(target)
        if target.suffix.lower() not in IMAGE_SUFFIXES and not is_video(target):
            raise DataError(
                f"{target.name} is not a photo or video this demo reads ({', '.join(sorted(IMAGE_SUFFIXES))}, .mp4, ...)"
            )
        self.pipeline.set_source(read_image(source))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        output = output_for(target, Path(tempfile.mkdtemp(dir=self.out_dir)), folder=True)
        Swapping(self.pipeline, self.provenance, progress=True).path(target, output)
        return output, verify_file(output)


def build_app(swapper: DemoSwapper):
    import gradio as gr

    def run(source, target, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's way to ask for progress)
        progress(0, desc="swapping")
        try:
            output, report = swapper(source, target)
        except (DataError, ValueError, OSError) as err:  # one message on the page; the server goes on
            return gr.update(value=None, visible=True), gr.update(value=None, visible=False), None, None, f"**Error:** {err}"
        video = is_video(output)
        verdict = "Marked as synthetic" if report.get("marked") else "Not marked"
        return (
            gr.update(value=None if video else str(output), visible=not video),
            gr.update(value=str(output) if video else None, visible=video),
            report,
            str(output),
            f"**{verdict}**: watermark id `{report['watermark'].get('id', 'none')}`",
        )

    with gr.Blocks(title="MobileFaceSwap demo") as app:
        gr.Markdown(
            "# MobileFaceSwap\nEvery result carries an invisible watermark and provenance metadata saying it is synthetic."
        )
        with gr.Row():
            source = gr.File(label="Source face (photo)", type="filepath", elem_id="source")
            target = gr.File(label="Target (photo or video)", type="filepath", elem_id="target")
        button = gr.Button("Swap", variant="primary", elem_id="swap")
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            image = gr.Image(label="Result", type="filepath", elem_id="result-image", interactive=False)
            video = gr.Video(label="Result", elem_id="result-video", visible=False, interactive=False)
            report = gr.JSON(label="mfs verify", elem_id="verify")
        download = gr.File(label="Download", elem_id="download", interactive=False)
        button.click(run, [source, target], [image, video, report, download, status])
    return app


def serve(
    checkpoint: str,
    host: str = "127.0.0.1",
    port: int = 7860,
    max_upload_mb: int = 200,
    out_dir: str | None = None,
    device: str = "auto",
) -> None:
    try:
        import gradio as gr
    except ImportError:
        raise RuntimeError("the demo needs gradio: pip install '.[demo]'") from None
    work = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="mfs-demo-"))
    app = build_app(DemoSwapper(checkpoint, work, device))
    try:
        app.queue(default_concurrency_limit=1).launch(  # one model, one swap at a time
            server_name=host,
            server_port=port,
            max_file_size=f"{max_upload_mb}mb",
            allowed_paths=[str(work)],
            theme=gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"]),  # no web fonts to fetch
            footer_links=[],
            ssr_mode=False,
            quiet=False,
        )
    finally:
        if not out_dir:
            shutil.rmtree(work, ignore_errors=True)
