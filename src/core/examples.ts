import type { BehaviorEventInput } from "./event.ts";
import type { ScenarioMember } from "./scenarios.ts";

/**
 * One realistic event per scenario member, with Chinese text, which every path must carry byte-exact.
 * Used by the demo, the docs and the tests: each must validate with no error and no warning.
 */
const base = {
  tenant_id: "mymx",
  user_id: "u_10086",
  timestamp: 1_764_000_000_000,
  context: { device_type: "mobile", os: "iOS 17.2", location: "上海" },
} as const;

export const EXAMPLE_EVENTS: Record<ScenarioMember, BehaviorEventInput> = {
  video_data: {
    ...base,
    scenario_id: "vlog_feed",
    item_id: "video_8848",
    action_type: "play_end",
    position: 3,
    experiment_id: "exp_feed_ranker",
    experiment_group: "treatment",
    scenario_data: {
      video_data: {
        duration: 185,
        watch_duration: 160,
        completion_rate: 0.86,
        video_quality: "1080p",
        is_fullscreen: true,
        is_muted: false,
        playback_speed: 1.5,
        seek_positions: [12, 95],
        buffer_time: 320,
      },
    },
  },
  ecommerce_data: {
    ...base,
    scenario_id: "product_feed",
    item_id: "sku_2024_dress",
    action_type: "add_cart",
    scenario_data: {
      ecommerce_data: {
        price: 299.0,
        currency: "CNY",
        quantity: 1,
        discount: 0.2,
        category_path: "/服饰/女装/连衣裙",
        brand: "江南布衣",
        sku_id: "JNBY-2024-红色-M",
        product_tags: ["新品", "包邮"],
        stock_count: 42,
        coupon_id: "双十一满减",
      },
    },
  },
  news_data: {
    ...base,
    scenario_id: "news_feed",
    item_id: "article_5521",
    action_type: "read_end",
    scenario_data: {
      news_data: {
        read_duration: 240,
        read_progress: 0.95,
        word_count: 1800,
        news_type: "科技",
        source: "新华社",
        author: "李明",
        keywords: ["人工智能", "芯片"],
        is_breaking_news: false,
        publish_time: 1_763_990_000_000,
      },
    },
  },
  music_data: {
    ...base,
    scenario_id: "daily_mix",
    item_id: "song_7001",
    action_type: "play_end",
    scenario_data: {
      music_data: {
        duration: 245,
        play_duration: 245,
        artist: "周杰伦",
        album: "叶惠美",
        genre: "流行",
        bpm: 92,
        language: "中文",
        is_vip_only: true,
        audio_quality: "lossless",
      },
    },
  },
  education_data: {
    ...base,
    scenario_id: "course_recs",
    item_id: "lesson_301",
    action_type: "complete",
    scenario_data: {
      education_data: {
        course_id: "高等数学",
        chapter_id: "第三章-微分",
        lesson_duration: 2700,
        study_duration: 2650,
        progress: 0.45,
        exercise_count: 20,
        correct_count: 17,
        score: 85.5,
        difficulty_level: "中级",
        is_certificate_course: true,
      },
    },
  },
  content_data: {
    ...base,
    scenario_id: "community",
    item_id: "post_9090",
    action_type: "collect",
    scenario_data: {
      content_data: {
        content_type: "answer",
        word_count: 650,
        image_count: 3,
        video_count: 0,
        topic: "旅行攻略",
        content_quality_score: 87.5,
        is_original: true,
        author_level: "资深作者",
        has_hashtags: true,
        hashtags: ["#成都美食", "#周末去哪儿"],
        engagement_rate: 0.12,
        read_time_estimate: 180,
      },
    },
  },
  social_data: {
    ...base,
    scenario_id: "people_you_may_know",
    item_id: "user_5566",
    action_type: "follow",
    scenario_data: {
      social_data: {
        relationship_type: "suggested",
        mutual_friends_count: 12,
        social_distance: 2,
        influence_score: 0.73,
        interaction_frequency: "medium",
        common_interests: ["摄影", "徒步"],
        is_verified: true,
        follower_count: 15000,
        following_count: 320,
        post_count: 880,
        similarity_score: 0.64,
      },
    },
  },
  personalized_data: {
    ...base,
    scenario_id: "home_feed",
    item_id: "mixed_4411",
    action_type: "positive_feedback",
    scenario_data: {
      personalized_data: {
        personalization_score: 0.91,
        match_reasons: ["看过相似视频", "关注的作者"],
        user_interests_match: 0.82,
        trending_score: 0.4,
        novelty_score: 0.35,
        diversity_group: "美食",
        recommendation_strategy: "hybrid",
        model_version: "ranker-v3.2",
        feature_importance: { 观看时长: 0.42, 点赞率: 0.31 },
      },
    },
  },
  custom_data: {
    ...base,
    scenario_id: "live_rooms",
    item_id: "room_123",
    action_type: "click",
    scenario_data: { custom_data: { room_title: "深夜食堂直播", viewer_count: 5120, gift_sent: true } },
    extra_data: { referrer: "首页推荐", ab_bucket: 7 },
  },
};
