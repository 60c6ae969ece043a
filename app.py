"""ganlab's Gradio app: `python app.py [--host 127.0.0.1] [--port 7860] [--share]`."""
import argparse
import os

from ganlab.ui import build_app, launch_kwargs


def main():
    p = argparse.ArgumentParser(description="ganlab: learn and show GANs in the browser")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="interface to listen on (0.0.0.0 for a LAN or a container)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--share", action="store_true", help="also print a public gradio.live link")
    a = p.parse_args()
    demo = build_app()
    demo.launch(server_name=a.host, server_port=a.port, share=a.share, **launch_kwargs())


if __name__ == "__main__":
    main()
