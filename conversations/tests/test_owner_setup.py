"""`gatekeeper_setup` and the set-up `make run` repeats on every start: owners are staff with an owner's
permissions, never superusers; a second owner never takes the first one's channels; a password
is set only on creation or when given; secrets are printed only by the run that made them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from conversations.models import ChannelAccount, Provider, Rule, User
from conversations.setup import OWNER_PERMISSIONS, startup_setup

pytestmark = pytest.mark.django_db

DEMO_NUMBER = "100000000000001"


@pytest.fixture(autouse=True)
def _environment(settings):
    """The environment `make run` reads: its owner, the first password from `.env`, the demo number."""
    settings.GATEKEEPER_OWNER = "alice"
    settings.GATEKEEPER_PASSWORD = "alice-first-password"
    settings.WHATSAPP_PHONE_NUMBER_ID = ""
    settings.TWILIO_WHATSAPP_NUMBER = ""
    settings.WEBCHAT_SLUG = "alice-chat"
    settings.WEBCHAT_ALLOWED_ORIGINS = []


def setup(*args: str) -> str:
    """Run `manage.py gatekeeper_setup` with `args`; its output."""
    out = StringIO()
    call_command("gatekeeper_setup", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def make_run_setup(warnings: list[str] | None = None):
    """What `manage.py serve` (`make run`) does on every start."""
    return startup_setup(warn=(warnings if warnings is not None else []).append)


def accounts_of(username: str) -> set[tuple[str, str]]:
    return set(ChannelAccount.objects.filter(owner__username=username).values_list("provider", "address"))


def test_an_owner_is_staff_with_exactly_an_owners_permissions_and_never_a_superuser():
    setup()

    alice = User.objects.get(username="alice")
    assert alice.is_staff and alice.is_active and not alice.is_superuser
    assert alice.get_all_permissions() == set(OWNER_PERMISSIONS)
    assert not alice.groups.exists()
    for never in ("add_channelaccount", "delete_channelaccount", "view_user", "change_user", "add_group"):
        assert not any(p.endswith(f".{never}") for p in alice.get_all_permissions()), never
    assert alice.has_perm("conversations.approve_draft")


def test_every_owner_permission_exists_and_names_a_model_the_admin_shows():
    for name in OWNER_PERMISSIONS:
        app_label, codename = name.split(".")
        assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), name


def test_an_owner_an_older_version_made_a_superuser_becomes_staff_on_the_next_run():
    User.objects.create_superuser(username="alice", password="kept-password", email="alice@example.com")

    out = setup()

    alice = User.objects.get(username="alice")
    assert (alice.is_staff, alice.is_superuser) == (True, False)
    assert alice.get_all_permissions() == set(OWNER_PERMISSIONS)
    assert alice.check_password("kept-password")
    assert "was a superuser" in out and "createsuperuser" in out


def test_setting_up_a_second_owner_with_the_same_channels_fails_naming_the_owner_and_changes_nothing():
    setup()
    before = accounts_of("alice")
    assert before == {(Provider.WHATSAPP, DEMO_NUMBER), (Provider.WEBCHAT, "alice-chat")}

    with pytest.raises(CommandError) as refused:
        setup("--username", "bob", "--password", "bob-password")

    message = str(refused.value)
    assert "belongs to alice" in message
    assert DEMO_NUMBER in message and "alice-chat" in message
    assert "--move-channels" in message
    assert accounts_of("alice") == before
    assert not User.objects.filter(username="bob").exists()


def test_one_taken_channel_among_new_ones_refuses_them_all():
    setup()

    with pytest.raises(CommandError, match="Web chat alice-chat belongs to alice"):
        setup("--username", "bob", "--whatsapp", "100000000000002", "--webchat", "alice-chat")

    assert not ChannelAccount.objects.filter(address="100000000000002").exists()
    assert not User.objects.filter(username="bob").exists()


def test_a_second_owner_gets_channels_of_their_own():
    setup()

    out = setup("--username", "bob", "--whatsapp", "100000000000002", "--webchat", "bob-chat")

    assert accounts_of("bob") == {(Provider.WHATSAPP, "100000000000002"), (Provider.WEBCHAT, "bob-chat")}
    assert accounts_of("alice") == {(Provider.WHATSAPP, DEMO_NUMBER), (Provider.WEBCHAT, "alice-chat")}
    assert "channel: Web chat bob-chat" in out
    assert Rule.objects.filter(owner__username="bob").count() == 4


def test_a_second_owner_may_start_without_channels():
    setup()

    setup("--username", "bob", "--no-channels")

    assert accounts_of("bob") == set()
    assert User.objects.get(username="bob").get_all_permissions() == set(OWNER_PERMISSIONS)


def test_channels_move_to_another_owner_only_when_asked():
    setup()

    out = setup("--username", "bob", "--move-channels")

    assert accounts_of("bob") == {(Provider.WHATSAPP, DEMO_NUMBER), (Provider.WEBCHAT, "alice-chat")}
    assert accounts_of("alice") == set()
    assert "channel: WhatsApp (Meta Cloud API) 100000000000001" in out


def test_make_run_repeated_for_the_same_owner_changes_nothing():
    first = make_run_setup()
    account = ChannelAccount.objects.get(provider=Provider.WEBCHAT)
    account.name = "My chat page"
    account.save()

    again = make_run_setup()

    assert again.created is False
    assert again.owner.pk == first.owner.pk
    assert again.token == first.token
    assert accounts_of("alice") == {(Provider.WHATSAPP, DEMO_NUMBER), (Provider.WEBCHAT, "alice-chat")}
    assert ChannelAccount.objects.get(provider=Provider.WEBCHAT).name == "My chat page"
    assert Rule.objects.filter(owner=first.owner).count() == 4
    assert Token.objects.count() == 1


def test_make_run_never_takes_back_channels_moved_to_another_owner():
    setup()
    setup("--username", "bob", "--move-channels")
    warnings: list[str] = []

    make_run_setup(warnings)

    assert accounts_of("bob") == {(Provider.WHATSAPP, DEMO_NUMBER), (Provider.WEBCHAT, "alice-chat")}
    assert accounts_of("alice") == set()
    assert len(warnings) == 2
    assert all("belongs to bob" in warning and "--move-channels" in warning for warning in warnings)


def test_the_first_password_only_creates_the_owner_and_a_changed_one_survives_restarts():
    make_run_setup()
    alice = User.objects.get(username="alice")
    assert alice.check_password("alice-first-password")

    alice.set_password("changed-in-the-admin")
    alice.save()
    make_run_setup()
    setup()  # the command without --password counts the same

    alice.refresh_from_db()
    assert alice.check_password("changed-in-the-admin")


def test_an_explicit_password_is_set_for_an_existing_owner():
    setup()

    out = setup("--password", "chosen-again")

    assert User.objects.get(username="alice").check_password("chosen-again")
    assert "chosen-again" not in out


def test_another_owner_never_gets_the_environments_first_password():
    setup()

    out = setup("--username", "bob", "--no-channels")

    bob = User.objects.get(username="bob")
    assert not bob.check_password("alice-first-password")
    (line,) = [line for line in out.splitlines() if line.startswith("password: ")]
    assert bob.check_password(line.removeprefix("password: "))


def test_secrets_are_printed_only_by_the_run_that_made_them(settings):
    settings.GATEKEEPER_PASSWORD = ""

    first = setup()
    alice = User.objects.get(username="alice")
    token = Token.objects.get(user=alice).key
    (password_line,) = [line for line in first.splitlines() if line.startswith("password: ")]
    generated = password_line.removeprefix("password: ")
    assert alice.check_password(generated)
    assert first.strip().splitlines()[-1] == f"token: {token}"

    second = setup()

    assert generated not in second and token not in second
    assert "/admin/password_change/" in second
    assert "/admin/authtoken/tokenproxy/" in second


def test_the_first_password_from_env_is_not_printed_but_named():
    out = setup()

    assert "alice-first-password" not in out
    assert "password: GATEKEEPER_PASSWORD in .env" in out
