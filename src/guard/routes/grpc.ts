/** moby's grpc router: BuildKit's control API over h2c. */
import { defineRoutes } from './define.js';

export const grpcRoutes = defineRoutes('grpc', [['grpc', 'POST', '/grpc', 'h2c', 'none']]);
