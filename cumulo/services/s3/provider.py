"""Amazon S3 as applications and the AWS CLI use it.

The operations live in mixins, one module per concern: ``buckets`` (buckets and their stored
configurations), ``objects`` (put/get/head/delete/copy/tagging/attributes), ``listing``,
``multipart``, ``notifications`` (event notifications, durable deliveries), ``lifecycle``
(rules carried out) and ``website`` (website endpoints, CORS); bodies are in ``storage``
(content-addressed files) and versions in ``versions``. Browser form uploads (``post_object``),
website endpoints and CORS preflights are plain HTTP routes. An object exists once its record
is committed; its body was renamed into place before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import BodyTooLarge, HttpRequest, HttpResponse
from cumulo.protocol.xml_error import xml_error
from cumulo.services.base import Provider
from cumulo.services.s3 import post_object
from cumulo.services.s3.buckets import BucketOperations
from cumulo.services.s3.lifecycle import LifecycleOperations
from cumulo.services.s3.listing import ListingOperations
from cumulo.services.s3.multipart import MultipartOperations
from cumulo.services.s3.notifications import QUEUE, NotificationOperations
from cumulo.services.s3.storage import BodyStore
from cumulo.services.s3.versions import Versions
from cumulo.services.s3.website import WebsiteOperations, website_bucket
from cumulo.targets.delivery_queue import DeliveryQueue

if TYPE_CHECKING:
    from cumulo.platform import Platform


class S3Provider(NotificationOperations, LifecycleOperations, WebsiteOperations, BucketOperations, ListingOperations,
                 MultipartOperations, Provider):
    service = "s3"
    validation_error_code = "InvalidArgument"  # S3 has no ValidationException
    http_route_spools = True  # form uploads may be large: ``http_route`` reads spooled bodies

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.bodies = BodyStore(platform.settings.data_dir / "s3", platform.store)
        self.versions = Versions(platform.store, self.bodies)
        self.notifications = DeliveryQueue(platform, QUEUE, self._send_notification, self._notification_dead_letter,
                                           send_sync=self._send_notification_now)

    async def start(self) -> None:
        """Delete bodies no record references (a crash between rename and commit leaves one)."""
        self.bodies.sweep()
        await self.notifications.start()
        self.start_lifecycle()

    async def stop(self) -> None:
        await self.stop_lifecycle()
        await self.notifications.stop()

    async def http_route(self, request: HttpRequest) -> HttpResponse | None:
        """What the S3 API model does not describe: website endpoints, CORS preflights and
        browser form uploads (POST Object)."""
        site = website_bucket(request)
        if site is not None:
            return self.serve_website(request, site)
        if request.method == "OPTIONS":
            return self.preflight(request)
        bucket = post_object.form_upload_bucket(request)
        if bucket is None:
            return None
        settings = self.platform.settings
        try:
            request = request.load_body()
            upload = post_object.read_upload(request, bucket, settings.access_keys if settings.auth_required else None)
            self._bucket(bucket)
            staged = await self._stage(upload.body, [])
            record = self._write(bucket, upload.key, self._new_record(upload.key, staged, upload.params), staged,
                                 "ObjectCreated:Post", None)
        except BodyTooLarge:
            return xml_error(AwsError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"))
        except AwsError as error:
            return xml_error(error)
        return post_object.upload_response(upload, bucket, record["ETag"], f"http://{request.host}")

    # ------------------------------------------------------------ internal API (services/interfaces.py)
    def read_object(self, bucket: str, key: str) -> bytes:
        """An object's bytes for other services (Lambda code from S3, Step Functions item readers)."""
        return self.bodies.read(self._version(bucket, key, None)["body"])
