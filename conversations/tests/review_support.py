"""Helpers of the review-dashboard tests: staff owners as a superuser would set them up."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.test import Client

from conversations.models import User

#: Permissions a staff owner gets: everything on Gatekeeper's models and their own API token.
OWNER_APPS = ("conversations", "authtoken")


def staff_owner(username: str, *, without: tuple[str, ...] = ()) -> User:
    """A staff owner who is not a superuser, with every model permission but the codenames `without`."""
    owner = User.objects.create_user(
        username=username, password=f"{username}-password", email=f"{username}@example.com", is_staff=True
    )
    permissions = Permission.objects.filter(content_type__app_label__in=OWNER_APPS).exclude(
        codename__in=without
    )
    owner.user_permissions.add(*permissions)
    return User.objects.get(pk=owner.pk)  # a fresh instance: no stale permission cache


def logged_in(user: User) -> Client:
    """A test client with the user's admin session."""
    client = Client()
    client.force_login(user)
    return client
