"""S3's XML error document, for answers given outside the S3 protocol's own serializer."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpResponse
from cumulo.protocol.xml_codec import to_bytes


def xml_error(error: AwsError) -> HttpResponse:
    root = ET.Element("Error")
    ET.SubElement(root, "Code").text = error.code
    ET.SubElement(root, "Message").text = error.message
    for name, value in error.fields.items():
        ET.SubElement(root, name).text = str(value)
    return HttpResponse(error.status or 400, {"Content-Type": "application/xml"}, to_bytes(root))
