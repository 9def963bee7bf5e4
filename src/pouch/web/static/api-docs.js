// Starts Swagger UI on /api/docs (a file, not an inline script, so that the page
// keeps a policy without 'unsafe-inline' for scripts). No validator badge: it
// would send the document to validator.swagger.io.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
