"""WhatsApp's 24-hour window in the REST API: where a conversation stands, and re-engaging it with a template.

`GET /api/conversations/<id>/window` tells whether a free-form reply can still go out and
until when. `POST /api/conversations/<id>/reengage` offers the channel account's
re-engagement template as a pending draft; it is sent only once approved with
`POST /api/drafts/<id>/approve`, like any reply.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from conversations import services, window
from conversations.api.serializers import NamedChoiceField
from conversations.models import Conversation, Draft, DraftKind, DraftStatus


class WindowRefused(APIException):
    """The conversation cannot be re-engaged now; `detail` says why."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conversation cannot be re-engaged with a template now."
    default_code = "conflict"


class WindowSerializer(serializers.Serializer):
    """Whether a free-form reply can reach the contact, and which template could reopen the window."""

    applies = serializers.BooleanField(help_text="False on channels without a window (web chat).")
    open = serializers.BooleanField(help_text="Whether a free-form reply may go out now.")
    last_inbound_at = serializers.DateTimeField(allow_null=True)
    closes_at = serializers.DateTimeField(
        allow_null=True, help_text="24 hours after the contact's last message."
    )
    template = serializers.CharField(help_text="Meta template name or Twilio Content SID; empty when unset.")
    language = serializers.CharField(help_text="The Meta template's language code.")
    template_draft = serializers.IntegerField(
        allow_null=True, help_text="The re-engagement template draft waiting for approval, if any."
    )


class TemplateDraftSerializer(serializers.ModelSerializer):
    """The re-engagement template offered as a draft; approve it at /api/drafts/<id>/approve."""

    status = NamedChoiceField(DraftStatus.choices, enum_name="DraftStatusEnum", read_only=True)

    class Meta:
        model = Draft
        fields = ["id", "conversation", "kind", "status", "text", "reason", "decision", "created_at"]
        read_only_fields = fields


ERROR = OpenApiResponse(description="Not yours, or no such conversation (404); or refused (409, `detail`).")


class _OwnedConversationView(GenericAPIView):
    """One of the requester's conversations; another owner's id is a 404."""

    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Conversation]:
        """Only the requester's conversations."""
        return Conversation.objects.filter(owner=self.request.user).select_related("account", "contact")


class ConversationWindowView(_OwnedConversationView):
    """Where the conversation stands with WhatsApp's 24-hour window."""

    serializer_class = WindowSerializer

    @extend_schema(
        tags=["conversations"],
        summary="WhatsApp's 24-hour window: can a free-form reply still go out?",
        responses={200: WindowSerializer, 404: ERROR},
    )
    def get(self, request: Request, pk: str) -> Response:
        """The window's state and the pending template draft, if one waits."""
        conversation = self.get_object()
        state = window.window_state(conversation)
        pending = (
            conversation.drafts.filter(kind=DraftKind.TEMPLATE, status=DraftStatus.PENDING)
            .values_list("id", flat=True)
            .first()
        )
        data = {
            "applies": state.applies,
            "open": state.open,
            "last_inbound_at": state.last_inbound_at,
            "closes_at": state.closes_at,
            "template": state.template,
            "language": state.language,
            "template_draft": pending,
        }
        return Response(WindowSerializer(data).data)


class ConversationReengageView(_OwnedConversationView):
    """Offer the re-engagement template for a conversation whose window has closed."""

    serializer_class = TemplateDraftSerializer

    @extend_schema(
        tags=["conversations"],
        summary="Offer the re-engagement template as a draft (the window has closed); approve it to send",
        request=None,
        responses={201: TemplateDraftSerializer, 200: TemplateDraftSerializer, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, pk: str) -> Response:
        """201 with a new template draft, 200 with the one already offered; nothing is sent yet."""
        conversation = self.get_object()
        try:
            draft, created = services.conversation_reengage(conversation_id=conversation.pk)
        except window.ReengagementRefused as refusal:
            raise WindowRefused(str(refusal)) from refusal
        return Response(
            TemplateDraftSerializer(draft).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
