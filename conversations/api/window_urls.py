"""Routes of the 24-hour window actions, included by `conversations.api.urls` (actions without a final `/`)."""

from django.urls import re_path

from conversations.api.window_views import ConversationReengageView, ConversationWindowView

urlpatterns = [
    re_path(
        r"^api/conversations/(?P<pk>\d+)/window/?$",
        ConversationWindowView.as_view(),
        name="conversation-window",
    ),
    re_path(
        r"^api/conversations/(?P<pk>\d+)/reengage/?$",
        ConversationReengageView.as_view(),
        name="conversation-reengage",
    ),
]
