"""The account emails, as plain text and escaped HTML. Links are built from APP_URL only, never
from the request's Host or X-Forwarded-Host (SECURITY.md "Tokens and sessions")."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from empulse.infra.email import OutgoingEmail


def link(app_url: str, path: str, token: str) -> str:
    return f"{app_url}{path}?{urlencode({'token': token})}"


def render(
    to: str,
    subject: str,
    greeting: str,
    paragraphs: list[str],
    action: tuple[str, str] | None = None,
) -> OutgoingEmail:
    text_parts = [greeting, *paragraphs]
    html_parts = [f"<p>{escape(greeting)}</p>", *(f"<p>{escape(p)}</p>" for p in paragraphs)]
    if action is not None:
        label, url = action
        text_parts.insert(2 if len(paragraphs) > 0 else 1, f"{label}: {url}")
        html_parts.append(
            f'<p><a href="{escape(url, quote=True)}">{escape(label)}</a></p>'
            f"<p>Or paste this address into your browser: {escape(url)}</p>"
        )
    text_parts.append("— EmPulse")
    html = (
        '<!doctype html><html><body style="font-family: sans-serif">'
        + "".join(html_parts)
        + "<p>— EmPulse</p></body></html>"
    )
    return OutgoingEmail(to=to, subject=subject, text="\n\n".join(text_parts) + "\n", html=html)


# Mail to an address nobody has confirmed yet greets no one by name: the name was typed by
# whoever gave the address, who may not own it, and must not reach a stranger's inbox (a link
# written as a name, say).
def verify_address(to: str, url: str) -> OutgoingEmail:
    return render(
        to,
        "Confirm your EmPulse email address",
        "Hello,",
        [
            "Confirm this address to finish creating your EmPulse account. The link works once "
            "and expires in 48 hours.",
            "If you did not create an EmPulse account, ignore this email: without confirmation "
            "the account cannot be used.",
        ],
        ("Confirm my address", url),
    )


def already_registered(to: str, name: str, reset_url: str, *, confirmed: bool) -> OutgoingEmail:
    """To the address of an existing account. An account that was never confirmed may have been
    made by someone else: its name is theirs (not used here), and a new password takes it over."""
    if not confirmed:
        return render(
            to,
            "Someone tried to create an EmPulse account with your address",
            "Hello,",
            [
                "Someone (perhaps you) tried to register a new EmPulse account with this "
                "address. It already has one, created earlier but never confirmed. Nothing was "
                "changed.",
                "If you did not create that account, or forgot its password, choose a password "
                "with the link below: the account becomes yours, confirmed, and whoever created "
                "it can no longer sign in.",
            ],
            ("Choose my password", reset_url),
        )
    return render(
        to,
        "Someone tried to create an EmPulse account with your address",
        f"Hi {name},",
        [
            "Someone (perhaps you) tried to register a new EmPulse account with this address, "
            "which already has one. Nothing was changed.",
            "If you forgot your password, you can choose a new one.",
        ],
        ("Reset my password", reset_url),
    )


def reset_password(to: str, name: str, url: str) -> OutgoingEmail:
    return render(
        to,
        "Reset your EmPulse password",
        f"Hi {name},",
        [
            "We received a request to reset your password. The link works once and expires in "
            "one hour. If you did not ask for this, ignore this email: your password stays as "
            "it is."
        ],
        ("Choose a new password", url),
    )


def password_changed(to: str, name: str) -> OutgoingEmail:
    return render(
        to,
        "Your EmPulse password was changed",
        f"Hi {name},",
        [
            "Your password was just changed, and your other sessions were signed out.",
            "If this was not you, reset your password now and contact support.",
        ],
    )


def account_locked(to: str, name: str, minutes: int, reset_url: str) -> OutgoingEmail:
    return render(
        to,
        "Your EmPulse account was locked after failed sign-ins",
        f"Hi {name},",
        [
            f"There were several failed attempts to sign in to your account, so it is locked "
            f"for {minutes} minutes. If this was not you, consider choosing a new password; "
            "resetting it also unlocks the account."
        ],
        ("Reset my password", reset_url),
    )


def account_deleted(to: str, name: str) -> OutgoingEmail:
    return render(
        to,
        "Your EmPulse account was deleted",
        f"Hi {name},",
        [
            "Your EmPulse account and its personal data have been deleted, as you asked. "
            "This is the last email we send to this address."
        ],
    )


def confirm_new_address(to: str, url: str) -> OutgoingEmail:
    return render(
        to,
        "Confirm your new EmPulse email address",
        "Hello,",
        [
            "Confirm this address to make it the one your EmPulse account signs in with. The "
            "link works once and expires in 24 hours.",
            "If you did not ask for this, ignore this email: nothing changes.",
        ],
        ("Confirm my new address", url),
    )


def email_change_requested(to: str, name: str, new_address: str) -> OutgoingEmail:
    """To the current address. `new_address` is masked."""
    return render(
        to,
        "A new email address was requested for your EmPulse account",
        f"Hi {name},",
        [
            f"Someone signed in to your account asked to change its address to {new_address}. "
            "It changes only when the link sent there is followed.",
            "If this was not you, change your password now: someone else knows it.",
        ],
    )


def email_changed(to: str, name: str, new_address: str) -> OutgoingEmail:
    """To the address the account no longer uses. `new_address` is masked."""
    return render(
        to,
        "Your EmPulse email address was changed",
        f"Hi {name},",
        [
            f"Your account now signs in with {new_address}; this address no longer receives "
            "its mail.",
            "If this was not you, contact support at once.",
        ],
    )


def address_in_use(to: str, name: str) -> OutgoingEmail:
    """To an address that already has an account, asked for by another account."""
    return render(
        to,
        "Someone tried to move an EmPulse account to your address",
        f"Hi {name},",
        [
            "Someone asked to change another EmPulse account's address to this one, which "
            "already has an account of its own. Nothing was changed.",
        ],
    )
