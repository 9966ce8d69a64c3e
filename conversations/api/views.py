"""Thin REST views: scope every query to the requesting owner and hand state changes to the services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.generics import RetrieveUpdateAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from conversations import configuration, services
from conversations.api.pagination import BoundedLimitOffsetPagination
from conversations.api.serializers import (
    ConversationDetailSerializer,
    ConversationSerializer,
    DraftApproveSerializer,
    DraftRefusedSerializer,
    DraftSerializer,
    ErrorSerializer,
    FactSerializer,
    MessageSerializer,
    OwnerSettingsSerializer,
    ReplyResultSerializer,
    ReplySerializer,
    RuleSerializer,
)
from conversations.models import (
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    Fact,
    Message,
    OwnerSettings,
    Rule,
    User,
)
from conversations.selectors import with_staleness

NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not yours, or no such object.")
REFUSED = OpenApiResponse(
    ErrorSerializer, description="The object is not in a state that allows this action; `detail` says why."
)
FORBIDDEN = OpenApiResponse(
    ErrorSerializer, description="You lack the permission to approve or reject drafts."
)
STALE_OR_REFUSED = OpenApiResponse(
    DraftRefusedSerializer,
    description="Refused: either the draft is no longer pending (`detail` says why), or it is stale "
    "(`code` is `stale_draft`): read the conversation, then approve again with "
    "`seen_through` set to `newest_message`.",
)


class CanApproveDrafts(BasePermission):
    """Sending on the owner's behalf is its own permission, in the API as in the admin."""

    message = "You need the permission 'Can approve or reject drafts' to decide drafts."

    def has_permission(self, request: Request, view: object) -> bool:
        """The `conversations.approve_draft` permission (superusers have every permission)."""
        return bool(request.user and request.user.has_perm("conversations.approve_draft"))


class Conflict(APIException):
    """The service refused the action because of the object's state (e.g. a draft approved twice)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This action is not possible in the object's current state."
    default_code = "conflict"


@contextmanager
def _refusal_is_conflict() -> Iterator[None]:
    """A domain service refusing inside the block (the object's state does not allow it) answers 409."""
    try:
        yield
    except services.ActionRefused as refusal:
        raise Conflict(str(refusal)) from refusal


def _choice_filter(request: Request, name: str, choices: list[str] | None = None) -> str | None:
    """Read one query-string filter; an unknown choice is a 400 rather than a silently empty list."""
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    if choices is not None and value not in choices:
        raise ValidationError({name: [f"Must be one of: {', '.join(choices)}."]})
    return value


@extend_schema_view(
    get=extend_schema(summary="Your settings (the safe defaults until you first change them)"),
    patch=extend_schema(summary="Change your settings"),
)
@extend_schema(tags=["settings"])
class OwnerSettingsView(RetrieveUpdateAPIView):
    """The requesting owner's settings; reading never stores anything, the first change stores them."""

    serializer_class = OwnerSettingsSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self) -> OwnerSettings:
        """The requester's settings; an owner without stored settings sees the safe defaults (unsaved)."""
        user = self.request.user
        return OwnerSettings.objects.filter(owner=user).first() or OwnerSettings(owner=user)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        """Save through the configuration service, which records the change in the audit trail."""
        owner_settings = serializer.instance
        if owner_settings.pk is None:  # the first change stores the defaults, then changes them
            owner_settings, _ = OwnerSettings.objects.get_or_create(owner=self.request.user)
            serializer.instance = owner_settings
        for name, value in serializer.validated_data.items():
            setattr(owner_settings, name, value)
        configuration.owner_settings_save(owner_settings=owner_settings, by=self.request.user)


class _OwnedViewSet(viewsets.ModelViewSet):
    """CRUD on one of the owner's own models; a duplicate that slips past validation is still a 400."""

    model: type[Rule] | type[Fact]
    unique_field: str
    lookup_value_regex = r"\d+"
    pagination_class = BoundedLimitOffsetPagination

    def get_queryset(self) -> QuerySet:
        """Only the requester's own objects: another owner's id is a 404."""
        return self.model.objects.filter(owner=self.request.user)

    def save_object(self, instance: Rule | Fact, by: User) -> None:
        raise NotImplementedError("subclasses of _OwnedViewSet must provide save_object()")

    def delete_object(self, instance: Rule | Fact, by: User) -> None:
        raise NotImplementedError("subclasses of _OwnedViewSet must provide delete_object()")

    def _save(self, serializer: serializers.BaseSerializer, instance: Rule | Fact) -> None:
        for name, value in serializer.validated_data.items():
            setattr(instance, name, value)
        try:
            with transaction.atomic():
                self.save_object(instance, self.request.user)
        except IntegrityError as exc:
            value = serializer.validated_data.get(self.unique_field, "")
            raise ValidationError(
                {self.unique_field: [f"You already have one with {self.unique_field} {value!r}."]}
            ) from exc
        serializer.instance = instance

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        """The owner is always the requester, whatever the body says."""
        self._save(serializer, self.model(owner=self.request.user))

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        """Save an edit, turning a racing duplicate into a 400."""
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance: Rule | Fact) -> None:
        """Delete through the configuration service, which records it in the audit trail."""
        self.delete_object(instance, self.request.user)


@extend_schema_view(
    list=extend_schema(summary="Your rules, one per category"),
    create=extend_schema(summary="Add a rule", responses={201: RuleSerializer}),
    retrieve=extend_schema(summary="One rule", responses={200: RuleSerializer, 404: NOT_FOUND}),
    update=extend_schema(summary="Replace a rule", responses={200: RuleSerializer, 404: NOT_FOUND}),
    partial_update=extend_schema(summary="Change a rule", responses={200: RuleSerializer, 404: NOT_FOUND}),
    destroy=extend_schema(summary="Delete a rule", responses={204: None, 404: NOT_FOUND}),
)
@extend_schema(tags=["settings"])
class RuleViewSet(_OwnedViewSet):
    """What happens to each category of conversation: auto, draft, escalate or ignore."""

    serializer_class = RuleSerializer
    model = Rule
    unique_field = "category"

    def save_object(self, instance: Rule, by: User) -> None:
        """Create or change the rule, with an audit entry."""
        configuration.rule_save(rule=instance, by=by)

    def delete_object(self, instance: Rule, by: User) -> None:
        """Delete the rule, with an audit entry."""
        configuration.rule_delete(rule=instance, by=by)


@extend_schema_view(
    list=extend_schema(summary="Your facts"),
    create=extend_schema(summary="Add a fact", responses={201: FactSerializer}),
    retrieve=extend_schema(summary="One fact", responses={200: FactSerializer, 404: NOT_FOUND}),
    update=extend_schema(summary="Replace a fact", responses={200: FactSerializer, 404: NOT_FOUND}),
    partial_update=extend_schema(summary="Change a fact", responses={200: FactSerializer, 404: NOT_FOUND}),
    destroy=extend_schema(summary="Delete a fact", responses={204: None, 404: NOT_FOUND}),
)
@extend_schema(tags=["settings"])
class FactViewSet(_OwnedViewSet):
    """What the assistant may know about you; private facts are never shared."""

    serializer_class = FactSerializer
    model = Fact
    unique_field = "key"

    def save_object(self, instance: Fact, by: User) -> None:
        """Create or change the fact, with an audit entry (a private value is masked there)."""
        configuration.fact_save(fact=instance, by=by)

    def delete_object(self, instance: Fact, by: User) -> None:
        """Delete the fact, with an audit entry."""
        configuration.fact_delete(fact=instance, by=by)


@extend_schema_view(
    list=extend_schema(
        summary="Drafts, newest first",
        parameters=[
            OpenApiParameter(
                "status", str, enum=DraftStatus.values, description="Only drafts in this state."
            ),
            OpenApiParameter("conversation", int, description="Only drafts of this conversation."),
        ],
    ),
    retrieve=extend_schema(summary="One draft", responses={200: DraftSerializer, 404: NOT_FOUND}),
)
@extend_schema(tags=["drafts"])
class DraftViewSet(viewsets.ReadOnlyModelViewSet):
    """Replies waiting for (or past) the owner's decision; approving queues the send, never sends inline."""

    serializer_class = DraftSerializer
    lookup_value_regex = r"\d+"
    pagination_class = BoundedLimitOffsetPagination

    def get_queryset(self) -> QuerySet[Draft]:
        """The requester's drafts, newest first; list filters apply to the list only."""
        drafts = with_staleness(
            Draft.objects.filter(conversation__owner=self.request.user).select_related(
                "conversation__contact", "decided_by"
            )
        )
        if self.action == "list":
            if wanted := _choice_filter(self.request, "status", DraftStatus.values):
                drafts = drafts.filter(status=wanted)
            if conversation := _choice_filter(self.request, "conversation"):
                if not conversation.isdigit():
                    raise ValidationError({"conversation": ["Must be a conversation id."]})
                drafts = drafts.filter(conversation_id=int(conversation))
        return drafts.order_by("-created_at", "-id")

    def _decided(self, draft_id: int) -> Response:
        return Response(DraftSerializer(self.get_queryset().get(pk=draft_id)).data)

    @extend_schema(
        summary="Approve a pending draft (optionally edited) and queue it for sending",
        description="A stale draft (the conversation got a newer provider message or your own reply "
        "since it was written) is refused with 409 `stale_draft` until you approve again with "
        "`seen_through`: the id of the newest message you have read.",
        request=DraftApproveSerializer,
        responses={
            200: DraftSerializer,
            400: OpenApiResponse(description="Empty text."),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: STALE_OR_REFUSED,
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, CanApproveDrafts])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve; the send itself happens in a job after the transaction commits."""
        draft = self.get_object()
        body = DraftApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with _refusal_is_conflict():
            try:
                services.draft_approve(
                    draft_id=draft.pk,
                    by=request.user,
                    text=body.validated_data.get("text"),
                    seen_through=body.validated_data.get("seen_through"),
                )
            except services.StaleDraft as stale:
                return Response(
                    {"detail": str(stale), "code": "stale_draft", "newest_message": stale.newest_message_id},
                    status=status.HTTP_409_CONFLICT,
                )
        return self._decided(draft.pk)

    @extend_schema(
        summary="Reject a pending draft; nothing is sent",
        request=None,
        responses={200: DraftSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: REFUSED},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, CanApproveDrafts])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Reject; a draft already decided is refused with 409."""
        draft = self.get_object()
        with _refusal_is_conflict():
            services.draft_reject(draft_id=draft.pk, by=request.user)
        return self._decided(draft.pk)


@extend_schema_view(
    list=extend_schema(
        summary="Conversations, most recent activity first (without messages; open one for those)",
        parameters=[
            OpenApiParameter(
                "status", str, enum=ConversationStatus.values, description="Only conversations in this state."
            ),
            OpenApiParameter("category", str, description="Only conversations of this category."),
        ],
    ),
    retrieve=extend_schema(
        summary="One conversation with all its messages, oldest first",
        responses={200: ConversationDetailSerializer, 404: NOT_FOUND},
    ),
)
@extend_schema(tags=["conversations"])
class ConversationViewSet(viewsets.ReadOnlyModelViewSet):
    """The owner's conversations; take one over, hand it back, or answer it by hand."""

    lookup_value_regex = r"\d+"
    pagination_class = BoundedLimitOffsetPagination

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        """Messages only on the detail, to keep the list cheap."""
        return ConversationSerializer if self.action == "list" else ConversationDetailSerializer

    def get_queryset(self) -> QuerySet[Conversation]:
        """The requester's conversations, most recent activity first, in a fixed number of queries."""
        conversations = (
            Conversation.objects.filter(owner=self.request.user)
            .select_related("contact", "account")
            .annotate(pending_drafts=Count("drafts", filter=Q(drafts__status=DraftStatus.PENDING)))
        )
        if self.action == "list":
            if wanted := _choice_filter(self.request, "status", ConversationStatus.values):
                conversations = conversations.filter(status=wanted)
            if category := _choice_filter(self.request, "category"):
                conversations = conversations.filter(category=category)
        else:
            conversations = conversations.prefetch_related(
                Prefetch("messages", queryset=Message.objects.order_by("id"))
            )
        return conversations.order_by("-updated_at", "-id")

    def _current(self, conversation_id: int) -> Response:
        return Response(ConversationDetailSerializer(self.get_queryset().get(pk=conversation_id)).data)

    @extend_schema(
        summary="Take the conversation over: the assistant goes quiet and its pending drafts are withdrawn",
        request=None,
        responses={200: ConversationDetailSerializer, 404: NOT_FOUND, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def takeover(self, request: Request, pk: str | None = None) -> Response:
        """Pause the bot in this conversation."""
        conversation = self.get_object()
        with _refusal_is_conflict():
            services.conversation_take_over(conversation_id=conversation.pk, by=request.user)
        return self._current(conversation.pk)

    @extend_schema(
        summary="Hand the conversation back to the assistant; what came in meanwhile counts as answered",
        request=None,
        responses={200: ConversationDetailSerializer, 404: NOT_FOUND, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str | None = None) -> Response:
        """Let the bot answer again."""
        conversation = self.get_object()
        with _refusal_is_conflict():
            services.conversation_release(conversation_id=conversation.pk, by=request.user)
        return self._current(conversation.pk)

    @extend_schema(
        summary="Reply by hand; queued for delivery, and the conversation is taken over",
        request=ReplySerializer,
        responses={
            202: ReplyResultSerializer,
            400: OpenApiResponse(description="Empty text."),
            404: NOT_FOUND,
            409: REFUSED,
        },
    )
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, pk: str | None = None) -> Response:
        """Queue the owner's words; 202 because delivery happens in a job."""
        conversation = self.get_object()
        body = ReplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with _refusal_is_conflict():
            messages = services.conversation_reply(
                conversation_id=conversation.pk, by=request.user, text=body.validated_data["text"]
            )
        return Response(
            {"messages": MessageSerializer(messages, many=True).data}, status=status.HTTP_202_ACCEPTED
        )
