"""Routes of follow-ups and promises, included by `conversations.api.urls` (with or without a final `/`)."""

from rest_framework.routers import SimpleRouter

from conversations.api.followup_views import FollowUpViewSet, PromiseViewSet

router = SimpleRouter()
router.trailing_slash = "/?"
router.register("api/followups", FollowUpViewSet, basename="followup")
router.register("api/promises", PromiseViewSet, basename="promise")

urlpatterns = router.urls
