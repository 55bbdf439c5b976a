"""A real SMTP server for stockbell's integration tests (aiosmtpd).

Usage: python3 smtp_server.py PORT DIR [CERT KEY]

With CERT and KEY (PEM files) the server offers STARTTLS with that certificate.

Listens on 127.0.0.1:PORT. Each accepted message is written to DIR/mail/NNNNNN.eml (the
raw DATA) with its envelope recipients in DIR/mail/NNNNNN.rcpt, one per line; the .eml
appears last (atomic rename), so a reader that sees it sees both. DIR/rules, re-read
on every RCPT, holds lines "ADDRESS CODE TEXT" to refuse a recipient (e.g. 550 or 451).

DIR/delay, if present, holds a number of seconds: the 250 reply to each DATA is held
until that long after the message was recorded, re-reading the file while waiting (so
raising it holds replies already waiting, and lowering it releases them). While a reply
is held, DIR/held/NNNNNN exists; once the 250 is about to go out, DIR/mail/NNNNNN.replied
is created. A client that disconnects meanwhile never gets the 250: its message is
recorded without the client knowing, the crash window of at-least-once delivery.
Runs until killed; a new process on the same port continues the numbering.
"""

import asyncio
import ssl
import os
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, directory):
        self.mail = os.path.join(directory, "mail")
        self.rules = os.path.join(directory, "rules")
        self.delay_file = os.path.join(directory, "delay")
        self.held = os.path.join(directory, "held")
        os.makedirs(self.mail, exist_ok=True)
        os.makedirs(self.held, exist_ok=True)
        self.lock = threading.Lock()

    def rule_for(self, address):
        try:
            with open(self.rules, encoding="utf-8") as f:
                for line in f:
                    parts = line.strip().split(" ", 2)
                    if len(parts) >= 2 and parts[0].lower() == address.lower():
                        return f"{parts[1]} {parts[2] if len(parts) > 2 else 'refused'}"
        except FileNotFoundError:
            pass
        return None

    def delay(self):
        try:
            with open(self.delay_file, encoding="utf-8") as f:
                return float(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.rule_for(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = len([f for f in os.listdir(self.mail) if f.endswith(".eml")]) + 1
            base = os.path.join(self.mail, f"{n:06d}")
            with open(base + ".rcpt", "w", encoding="utf-8") as f:
                f.write("".join(r + "\n" for r in envelope.rcpt_tos))
            with open(base + ".tmp", "wb") as f:
                f.write(envelope.original_content or envelope.content)
            os.rename(base + ".tmp", base + ".eml")
        recorded = time.monotonic()
        if self.delay() > 0:
            held = os.path.join(self.held, f"{n:06d}")
            open(held, "w").close()
            try:
                # Cancelled (no reply) if the client goes away meanwhile.
                while time.monotonic() - recorded < self.delay():
                    await asyncio.sleep(0.02)
            finally:
                os.remove(held)
        open(base + ".replied", "w").close()
        return "250 Message accepted for delivery"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    tls = {}
    if len(sys.argv) >= 5:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        tls = {"tls_context": context}
    controller = Controller(
        Handler(directory), hostname="127.0.0.1", port=port, enable_SMTPUTF8=True, **tls
    )
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
