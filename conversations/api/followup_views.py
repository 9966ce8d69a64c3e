"""Follow-ups and promises in the REST API; thin: scoping here, decisions in `followups` and `promises`.

`GET/POST /api/followups/`, `POST /api/followups/<id>/cancel`; `GET /api/promises/`,
`POST /api/promises/<id>/dismiss`. Every object is the requester's: another owner's id is a 404.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from conversations import followups, promises
from conversations.api.pagination import BoundedLimitOffsetPagination
from conversations.api.serializers import NamedChoiceField
from conversations.api.views import NOT_FOUND, REFUSED, Conflict, _choice_filter
from conversations.models import (
    Conversation,
    FollowUp,
    FollowUpSource,
    FollowUpStatus,
    Promise,
    PromiseStatus,
)
from conversations.services import ActionRefused


class FollowUpSerializer(serializers.ModelSerializer):
    """A follow-up: a message to send later; `now: true` sends one whose time has passed at once."""

    conversation = serializers.IntegerField(min_value=1, max_value=2**63 - 1, source="conversation_id")
    due_at = serializers.DateTimeField(help_text="When to send it (ISO 8601); must be in the future.")
    text = serializers.CharField(
        max_length=followups.TEXT_LIMIT,
        allow_blank=True,
        required=False,
        default="",
        help_text="Your own words, sent as your reply. Empty: the assistant's standard follow-up, checked "
        "by your rules like any assistant reply.",
    )
    unless_reply = serializers.BooleanField(
        required=False, default=True, help_text="Skip it when the company writes before it is due."
    )
    now = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="Send at once if `due_at` has passed."
    )
    status = NamedChoiceField(FollowUpStatus.choices, enum_name="FollowUpStatusEnum", read_only=True)
    source = NamedChoiceField(FollowUpSource.choices, enum_name="FollowUpSourceEnum", read_only=True)

    class Meta:
        model = FollowUp
        fields = ["id", "conversation", "due_at", "text", "unless_reply", "status", "source", "why", "now"]
        read_only_fields = ["id", "status", "source", "why"]


class PromiseSerializer(serializers.ModelSerializer):
    """What the company said it would do, and by when."""

    status = NamedChoiceField(PromiseStatus.choices, enum_name="PromiseStatusEnum", read_only=True)

    class Meta:
        model = Promise
        fields = ["id", "conversation", "what", "due_at", "status", "words"]
        read_only_fields = fields


def _id_filter(request: Request, name: str) -> int | None:
    value = _choice_filter(request, name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise ValidationError({name: ["Must be a conversation id."]})
    return int(value)


@extend_schema_view(
    list=extend_schema(
        summary="Your follow-ups, soonest first",
        parameters=[
            OpenApiParameter("status", str, enum=FollowUpStatus.values, description="Only in this state."),
            OpenApiParameter("conversation", int, description="Only of this conversation."),
        ],
    ),
    retrieve=extend_schema(summary="One follow-up", responses={200: FollowUpSerializer, 404: NOT_FOUND}),
    create=extend_schema(
        summary="Schedule a follow-up",
        responses={
            201: FollowUpSerializer,
            400: OpenApiResponse(description="A time in the past (without `now`), or bad input."),
            404: NOT_FOUND,
        },
    ),
)
@extend_schema(tags=["follow-ups"])
class FollowUpViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Messages to send later, by you, the assistant or a promise the company did not keep."""

    serializer_class = FollowUpSerializer
    lookup_value_regex = r"\d+"
    pagination_class = BoundedLimitOffsetPagination

    def get_queryset(self) -> QuerySet[FollowUp]:
        """The requester's follow-ups only."""
        found = FollowUp.objects.filter(conversation__owner=self.request.user)
        if self.action == "list":
            if wanted := _choice_filter(self.request, "status", FollowUpStatus.values):
                found = found.filter(status=wanted)
            if (conversation := _id_filter(self.request, "conversation")) is not None:
                found = found.filter(conversation_id=conversation)
        return found.order_by("due_at", "id")

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Schedule it; another owner's conversation is a 404, a time in the past a 400 with the reason."""
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        conversation = Conversation.objects.filter(owner=request.user, pk=data["conversation_id"]).first()
        if conversation is None:
            raise NotFound("No such conversation.")
        try:
            followup = followups.schedule_by_owner(
                conversation=conversation,
                by=request.user,
                text=data.get("text", ""),
                due_at=data["due_at"],
                unless_reply=data.get("unless_reply", True),
                fire_now=data.get("now", False),
                now=timezone.now(),
            )
        except followups.FollowUpRefused as refusal:
            raise ValidationError({"due_at": [str(refusal)]}) from refusal
        return Response(FollowUpSerializer(followup).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a scheduled follow-up",
        request=None,
        responses={200: FollowUpSerializer, 404: NOT_FOUND, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Only a scheduled one can be cancelled; one already sent, held or skipped is a 409."""
        followup = self.get_object()
        try:
            followup = followups.cancel(followup_id=followup.pk, by=request.user)
        except ActionRefused as refusal:
            raise Conflict(str(refusal)) from refusal
        return Response(FollowUpSerializer(followup).data)


@extend_schema_view(
    list=extend_schema(
        summary="What companies promised you, soonest due first",
        parameters=[
            OpenApiParameter("status", str, enum=PromiseStatus.values, description="Only in this state."),
            OpenApiParameter("conversation", int, description="Only of this conversation."),
        ],
    ),
    retrieve=extend_schema(summary="One promise", responses={200: PromiseSerializer, 404: NOT_FOUND}),
)
@extend_schema(tags=["follow-ups"])
class PromiseViewSet(viewsets.ReadOnlyModelViewSet):
    """Promises read from the companies' messages; chased with a follow-up when due and not kept."""

    serializer_class = PromiseSerializer
    lookup_value_regex = r"\d+"
    pagination_class = BoundedLimitOffsetPagination

    def get_queryset(self) -> QuerySet[Promise]:
        """The requester's promises only."""
        found = Promise.objects.filter(conversation__owner=self.request.user)
        if self.action == "list":
            if wanted := _choice_filter(self.request, "status", PromiseStatus.values):
                found = found.filter(status=wanted)
            if (conversation := _id_filter(self.request, "conversation")) is not None:
                found = found.filter(conversation_id=conversation)
        return found.order_by("due_at", "id")

    @extend_schema(
        summary="Dismiss an open promise: it is never chased",
        request=None,
        responses={200: PromiseSerializer, 404: NOT_FOUND, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str | None = None) -> Response:
        """Only an open promise can be dismissed; 409 otherwise."""
        promise = self.get_object()
        try:
            promise = promises.dismiss(promise_id=promise.pk, by=request.user)
        except ActionRefused as refusal:
            raise Conflict(str(refusal)) from refusal
        return Response(PromiseSerializer(promise).data)
