/** `jail serve`: runs over HTTP (docs/serve.md). */
export { serve, serveWith, DEFAULT_SERVE_CONFIG, type ServeOptions, type Server } from './server';
