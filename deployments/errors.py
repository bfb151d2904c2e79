from core.errors import Conflict, NotFound


class DeploymentNotFound(NotFound):
    code = "DEPLOYMENT_NOT_FOUND"


class DeploymentNotActive(Conflict):
    code = "DEPLOYMENT_NOT_ACTIVE"


class DeploymentRestoreConflict(Conflict):
    code = "DEPLOYMENT_RESTORE_CONFLICT"


class DeploymentActive(Conflict):
    code = "DEPLOYMENT_ACTIVE"


class DeploymentConflict(Conflict):
    code = "DEPLOYMENT_CONFLICT"
