"""ganlab's Gradio app: `python app.py [--host 127.0.0.1] [--port 7860] [--share]`."""
import argparse
import os
import socket
import sys

SHARE_HOST = ("api.gradio.app", 443)     # where Gradio asks for a tunnel (gradio/networking.py: GRADIO_API_SERVER)
SHARE_HELP = """also print a public https://*.gradio.live link to this app, valid while it runs (about a week at
most). Needs internet: on first use Gradio downloads its tunnel client (frpc, into $HF_HOME/gradio/frpc), and
every start asks api.gradio.app for a tunnel. Offline, the app says so and serves on the local address only.
Not needed on a Hugging Face Space, which is public already."""


def share_blocker(timeout: float = 5.0) -> str | None:
    """Why a share link cannot be made here (None when the tunnel server is reachable or a proxy is configured,
    in which case Gradio itself tries). A TCP connect, nothing is requested."""
    if os.environ.get("SPACE_ID"):
        return "--share is not needed: this app runs on a Hugging Face Space, which is public already."
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    try:
        socket.create_connection(SHARE_HOST, timeout=timeout).close()
    except OSError as e:
        return (f"--share needs internet: Gradio downloads its tunnel client on first use and asks {SHARE_HOST[0]} "
                f"for a tunnel, and {SHARE_HOST[0]} cannot be reached ({e.strerror or e}). "
                "Serving on the local address only.")
    return None


def main():
    p = argparse.ArgumentParser(description="ganlab: learn and show GANs in the browser")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="interface to listen on (0.0.0.0 for a LAN or a container)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--share", action="store_true", help=SHARE_HELP)
    p.add_argument("--device", default=None, help="where the models compute: auto (CUDA, then Apple MPS, then the "
                   "CPU), cpu, cuda or mps (default: $GANLAB_DEVICE or auto)")
    p.add_argument("--data-dir", default=None, help="MNIST / Fashion-MNIST folder for the Live training tab's image GAN "
                   "(default $GANLAB_DATA_DIR, else data; downloaded there when missing)")
    a = p.parse_args()
    from ganlab import device, preload                  # imported after parsing: `--help` answers at once
    from ganlab.ui import build_app, launch_kwargs
    try:
        where = device.resolve(a.device)
    except ValueError as e:
        p.error(str(e))
    print(f"ganlab: models compute on {device.describe(where)}", flush=True)

    share = a.share
    if share and (reason := share_blocker()):
        print(f"ganlab: {reason}", file=sys.stderr, flush=True)
        share = False
    pre = preload.start_from_env()           # GANLAB_PRELOAD: import models in the background, the page is up at once
    if pre is not None:
        print(f"ganlab: preloading {len(pre.items)} model(s) in the background into {pre.out_root}", flush=True)
    demo = build_app(preloader=pre, device=where, data_dir=a.data_dir)   # its registry lists the preloads too
    demo.launch(server_name=a.host, server_port=a.port, share=share, **launch_kwargs())


if __name__ == "__main__":
    main()
