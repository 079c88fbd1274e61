"""The harness's own servers work, so that tests built on them mean something."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from tests.support.fixtures import S3Server, SmtpCapture


def test_smtp_server_captures_messages(smtp_server: SmtpCapture) -> None:
    message = EmailMessage()
    message["From"] = "sender@empulse.test"
    message["To"] = "listener@empulse.test"
    message["Subject"] = "Verify your address"
    message.set_content("https://app.empulse.test/verify?token=abc")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.send_message(message)
    (received,) = smtp_server.wait_for(1)
    assert received["Subject"] == "Verify your address"
    assert "verify?token=abc" in received.get_content()


def test_s3_server_stores_objects_in_a_fresh_bucket(s3_server: S3Server) -> None:
    client = s3_server.client()
    assert client.list_objects_v2(Bucket=s3_server.bucket).get("KeyCount") == 0
    client.put_object(Bucket=s3_server.bucket, Key="a.txt", Body=b"hello")
    body = client.get_object(Bucket=s3_server.bucket, Key="a.txt")["Body"].read()
    assert body == b"hello"
