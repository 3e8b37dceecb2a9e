"""A team's Python service tracking one video play-end event through the relay's gRPC API.

Uses only code generated from protos/recommender/v1/behavior.proto with grpcio-tools, as
docs/grpc-clients.md describes. Prints the relay's answer as JSON on stdout.
"""

import json
import os
import sys

sys.path.insert(0, os.environ["GENERATED_DIR"])

import grpc  # noqa: E402
from recommender.v1 import behavior_pb2, behavior_pb2_grpc  # noqa: E402


def main() -> None:
    channel = grpc.insecure_channel(os.environ["RELAY_GRPC_ADDRESS"])
    stub = behavior_pb2_grpc.BehaviorServiceStub(channel)
    event = behavior_pb2.BehaviorEvent(
        tenant_id=os.environ["TENANT_ID"],
        scenario_id="vlog_feed",
        user_id="py_user_1",
        item_id="video_8848",
        action_type=behavior_pb2.ACTION_TYPE_PLAY_END,
        context=behavior_pb2.BehaviorContext(device_type=behavior_pb2.DEVICE_TYPE_MOBILE, os="Android 14", location="杭州"),
        position=2,
        scenario_data=behavior_pb2.ScenarioSpecificData(
            video_data=behavior_pb2.VideoScenarioData(duration=185, watch_duration=170, completion_rate=0.92, video_quality="1080p")
        ),
    )
    response = stub.TrackEvent(
        behavior_pb2.TrackEventRequest(event=event),
        metadata=[("authorization", f"Bearer {os.environ['RELAY_KEY']}")],
        timeout=10,
    )
    print(json.dumps({"success": response.success, "event_id": response.event_id, "message": response.message}))


if __name__ == "__main__":
    main()
