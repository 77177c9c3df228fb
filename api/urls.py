"""/api/...: the REST API (namespace "api"): /api/v1/ its endpoints and schema, /api/docs/ and
/api/problems/ its pages. The "API tokens" page is the account's (nstsite.urls: /accounts/api-tokens/)."""

from django.urls import path

from api import docs
from api.views import jobs, reference

app_name = "api"

urlpatterns = [
    path("v1/schema/", docs.Schema.as_view(), name="schema"),
    path("v1/jobs/", jobs.JobList.as_view(), name="jobs"),
    path("v1/jobs/<int:pk>/", jobs.JobDetail.as_view(), name="job"),
    path("v1/jobs/<int:pk>/cancel/", jobs.JobCancel.as_view(), name="job_cancel"),
    path("v1/jobs/<int:pk>/ticket/", jobs.JobTicket.as_view(), name="job_ticket"),
    path("v1/jobs/<int:pk>/files/<slug:kind>/", jobs.JobFile.as_view(), name="job_file"),
    path("v1/batches/", reference.BatchList.as_view(), name="batches"),
    path("v1/batches/<int:pk>/", reference.BatchDetail.as_view(), name="batch"),
    path("v1/styles/", reference.Styles.as_view(), name="styles"),
    path("v1/estimate/", reference.Estimate.as_view(), name="estimate"),
    path("v1/settings/", reference.ResultSettings.as_view(), name="settings"),
    path("docs/", docs.docs_page, name="docs"),
    path("problems/", docs.problems_page, name="problems"),
]
