/* The API docs page (/docs): Swagger UI, served by the hub itself, over the hub's own
 * /openapi.json. A file, not an inline script, so the page runs under the same
 * Content-Security-Policy as the operations view; nothing is fetched from anywhere else (no
 * validator badge, which would ask a public validator about the document).
 */
(function () {
  "use strict";
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
