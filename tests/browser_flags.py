"""Flags every test gives Debian's headless Chromium: no sandbox (tests may run as root), no
GPU, and nothing that reaches the network or updates itself."""

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
