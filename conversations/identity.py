"""Who a sender is: one contact per person, found by phone number or WhatsApp user id.

WhatsApp may name one person by a phone number, by a business-scoped user id (`US.1349…`,
"BSUID") or by both, and later by a new number. A contact records every identifier it was
seen with, and a sender is found by any of them (docs/architecture.md, "One identity per
contact"):

- the same user id is the same person; two different user ids are never merged;
- the same phone number is the same person unless both sides carry different user ids;
- otherwise the address a contact was created under (a web-chat visitor, a group, an old row).

System notices change a contact: `user_changed_number` moves it to the new number (its
conversations continue), `customer_identity_changed` marks it unverified until the owner
confirms it in the admin; until then the assistant does not act for it (trust/senders.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from conversations import audit
from conversations.escalation import escalate
from conversations.inbound import InboundMessage
from conversations.models import (
    AuditAction,
    Contact,
    Conversation,
    EscalationReason,
    User,
)

logger = logging.getLogger(__name__)

#: `metadata["system_type"]` of the notices applied to the contact.
CHANGED_NUMBER = "user_changed_number"
CHANGED_IDENTITY = "customer_identity_changed"


@dataclass(frozen=True)
class Sender:
    """The identifiers one inbound message names its sender by."""

    address: str
    phone: str = ""
    user_id: str = ""
    parent_user_id: str = ""
    name: str = ""


def sender_of(inbound: InboundMessage) -> Sender:
    return Sender(
        address=inbound.sender_address,
        phone=inbound.sender_phone,
        user_id=inbound.sender_user_id,
        parent_user_id=inbound.sender_parent_user_id,
        name=inbound.sender_name,
    )


def identifiers(senders: Iterable[Sender]) -> dict[str, list[str]]:
    """The contact columns to look `senders` up by, each with its values (an empty list: none)."""
    senders = list(senders)
    # A sender's phone and user id are stored on its contact, indexed identifier first, so WhatsApp
    # senders are found by those; the address only when it is something else (a web-chat visitor,
    # a group, a handle from before): then the (owner, address) index serves.
    return {
        "phone": sorted({s.phone for s in senders if s.phone}),
        "user_id": sorted({s.user_id for s in senders if s.user_id}),
        "address": sorted({s.address for s in senders if s.address not in ("", s.phone, s.user_id)}),
    }


def lookup(senders: Iterable[Sender], prefix: str = "") -> Q:
    """Contacts that may be one of `senders`: by address, phone or user id (`prefix` for a relation)."""
    wanted = identifiers(senders)
    match = Q(**{f"{prefix}phone__in": wanted["phone"]})
    for column in ("user_id", "address"):
        if wanted[column]:
            match |= Q(**{f"{prefix}{column}__in": wanted[column]})
    return match


def rank(contact: Contact, sender: Sender) -> int:
    """How surely `contact` is `sender`: 3 same user id, 2 same phone, 1 same address, 0 not them."""
    if sender.user_id and contact.user_id:
        # Two user ids name two people, whatever their digits or phone numbers say.
        return 3 if contact.user_id == sender.user_id else 0
    if sender.phone and contact.phone:
        return 2 if contact.phone == sender.phone else 0
    return 1 if sender.address and contact.address == sender.address else 0


def best(contacts: Iterable[Contact], sender: Sender) -> Contact | None:
    """The contact `sender` is, among `contacts`, or None."""
    ranked = [(rank(contact, sender), contact.pk or 0, contact) for contact in contacts]
    ranked = [entry for entry in ranked if entry[0]]
    if not ranked:
        return None
    return max(ranked, key=lambda entry: (entry[0], -entry[1]))[2]


class Directory:
    """Contacts indexed by every identifier, so a delivery of many senders is matched in linear time."""

    def __init__(self) -> None:
        self._by: dict[tuple[str, str], list[Contact]] = {}

    def add(self, contact: Contact) -> None:
        """Index a contact (again, after it gained an identifier)."""
        for key in (("user_id", contact.user_id), ("phone", contact.phone), ("address", contact.address)):
            if key[1]:
                entries = self._by.setdefault(key, [])
                if not any(entry is contact for entry in entries):
                    entries.append(contact)

    def find(self, sender: Sender) -> Contact | None:
        """The contact `sender` is, or None."""
        keys = (("user_id", sender.user_id), ("phone", sender.phone), ("address", sender.address))
        return best((c for key in keys if key[1] for c in self._by.get(key, ())), sender)

    def same_as(self, unsaved: Contact) -> Contact | None:
        """The stored contact a concurrent delivery created for the sender `unsaved` was made for."""
        if unsaved.user_id:
            for contact in self._by.get(("user_id", unsaved.user_id), ()):
                return contact
        for contact in self._by.get(("address", unsaved.address), ()):
            return contact
        return None


def new_contact(owner_id: int, sender: Sender) -> Contact:
    return Contact(
        owner_id=owner_id,
        address=sender.address,
        name=sender.name,
        phone=sender.phone,
        user_id=sender.user_id,
        parent_user_id=sender.parent_user_id,
    )


def absorb(contact: Contact, sender: Sender) -> None:
    """Fill the blanks of a contact not yet stored from another message of the same sender."""
    for field in ("phone", "user_id", "parent_user_id", "name"):
        if getattr(sender, field) and not getattr(contact, field):
            setattr(contact, field, getattr(sender, field))


def record_identifiers(contact: Contact, sender: Sender) -> None:
    """Store what the provider now tells us in the contact's blanks; never overwrite the owner's."""
    changed = {
        field: getattr(sender, field)
        for field in ("name", "phone", "parent_user_id")
        if getattr(sender, field) and not getattr(contact, field)
    }
    if changed:
        Contact.objects.filter(pk=contact.pk).update(**changed)
        for field, value in changed.items():
            setattr(contact, field, value)
    if sender.user_id and not contact.user_id:
        try:
            with transaction.atomic():
                Contact.objects.filter(pk=contact.pk, user_id="").update(user_id=sender.user_id)
        except IntegrityError:
            # Another contact of the owner already has this user id (two rows from before the
            # identity model): both stay, each found by its own identifier.
            logger.warning("contact %s: user id already belongs to another contact, not recorded", contact.pk)
        else:
            contact.user_id = sender.user_id


def apply_notice(conversation: Conversation, inbound: InboundMessage) -> None:
    """A system notice about the conversation's contact, applied to the contact."""
    notice = inbound.metadata.get("system_type")
    if notice == CHANGED_NUMBER:
        _change_number(conversation, str(inbound.metadata.get("new_phone") or ""))
    elif notice == CHANGED_IDENTITY:
        _identity_changed(conversation)


def _change_number(conversation: Conversation, new_phone: str) -> None:
    """Replies go to the new number from now on; the contact and its history stay the same."""
    contact = conversation.contact
    if not new_phone or new_phone == contact.phone:
        return
    old_phone = contact.phone
    changed = {"phone": new_phone}
    # A contact created under its old number moves its handle along, unless that is taken.
    if (
        contact.address == old_phone
        and not Contact.objects.filter(owner_id=contact.owner_id, address=new_phone).exists()
    ):
        changed["address"] = new_phone
    Contact.objects.filter(pk=contact.pk).update(**changed)
    for field, value in changed.items():
        setattr(contact, field, value)
    logger.info("contact %s changed their WhatsApp number; replies now go to the new one", contact.pk)
    if Contact.objects.filter(owner_id=contact.owner_id, phone=new_phone).exclude(pk=contact.pk).exists():
        # Left as it is (it is the owner's record), but a sender by this number alone is ambiguous now.
        logger.warning("contact %s moved to a number another contact of the owner also has", contact.pk)


def _identity_changed(conversation: Conversation) -> None:
    """The contact reinstalled WhatsApp or changed device: the owner confirms it is still them."""
    contact = conversation.contact
    now = timezone.now()
    Contact.objects.filter(pk=contact.pk).update(identity_changed_at=now)
    contact.identity_changed_at = now
    escalate(
        conversation,
        reason=EscalationReason.UNVERIFIED_SENDER,
        detail=f"WhatsApp says the identity of {contact} changed (new device or reinstall). The assistant "
        "does not answer for them until you confirm it is still them (action “Confirm the contact's "
        "identity” on the conversation).",
    )


class NothingToConfirm(Exception):
    """The contact's identity did not change."""


def confirm_identity(*, conversation_id: int, by: User) -> Contact:
    """The owner vouches that the contact of this conversation is still who they were."""
    with transaction.atomic(durable=True):
        conversation = Conversation.objects.select_related("contact").get(pk=conversation_id)
        contact = Contact.objects.select_for_update().get(pk=conversation.contact_id)
        if contact.identity_changed_at is None:
            raise NothingToConfirm(f"The identity of {contact} did not change; nothing to confirm.")
        changed_at = contact.identity_changed_at
        contact.identity_changed_at = None
        contact.save(update_fields=["identity_changed_at"])
        audit.record(
            actor=by,
            action=AuditAction.CONFIRM_IDENTITY,
            owner_id=conversation.owner_id,
            conversation=conversation,
            summary=f"Confirmed that {contact} is still the same after WhatsApp reported an identity change",
            before={"identity_changed_at": changed_at.isoformat()},
            after={"identity_changed_at": None},
        )
    return contact
