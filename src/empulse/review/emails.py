"""Review decisions, as emails to the artist (plain text and escaped HTML)."""

from __future__ import annotations

from empulse.auth.emails import render
from empulse.infra.email import OutgoingEmail


def application_decided(
    to: str, name: str, public_id: str, approved: bool, reason: str | None
) -> OutgoingEmail:
    if approved:
        return render(
            to,
            "Your EmPulse artist application is approved",
            f"Hi {name},",
            [
                f"Your artist application {public_id} has been approved. You can now submit "
                "releases from your artist dashboard."
            ],
        )
    return render(
        to,
        "Your EmPulse artist application was not approved",
        f"Hi {name},",
        [
            f"Your artist application {public_id} was not approved.",
            f"The reviewer wrote: {reason}",
            "You may correct the application and apply again.",
        ],
    )


def submission_decided(
    to: str, name: str, public_id: str, title: str, approved: bool, reason: str | None
) -> OutgoingEmail:
    if approved:
        return render(
            to,
            f"“{title}” is published on EmPulse",
            f"Hi {name},",
            [f"Your submission {public_id}, “{title}”, was approved and is now published."],
        )
    return render(
        to,
        f"“{title}” was not approved",
        f"Hi {name},",
        [
            f"Your submission {public_id}, “{title}”, was not approved.",
            f"The reviewer wrote: {reason}",
        ],
    )


def track_taken_down(to: str, name: str, title: str, reason: str) -> OutgoingEmail:
    return render(
        to,
        f"“{title}” was taken down",
        f"Hi {name},",
        [
            f"Your track “{title}” was taken down and is no longer available to listeners.",
            f"The reason given: {reason}",
            "Reply to this email if you believe this is a mistake.",
        ],
    )


def track_restored(to: str, name: str, title: str) -> OutgoingEmail:
    return render(
        to,
        f"“{title}” is available again",
        f"Hi {name},",
        [f"Your track “{title}” has been restored and is available to listeners again."],
    )
